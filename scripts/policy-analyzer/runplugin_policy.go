// ai-fleet: RunPlugin for Node.js policy packs, added to pulumi-language-nodejs built from
// github.com/pulumi/pulumi/sdk/v3@v3.68.0 by scripts/policy-analyzer.sh (a `go build -overlay`:
// the module's main.go gets one line changed so that RunPlugin calls runPolicyPackPlugin, and this
// file is added to the package). Written for ai-fleet; not Pulumi's code.
//
// Why: the Pulumi CLI this project pins (3.250) no longer runs a Node.js policy pack through the
// old `pulumi-analyzer-policy` shell script. When a language plugin for the pack's runtime exists it
// calls that plugin's RunPlugin with kind "analyzer" and the pack directory (ProgramInfo), and the
// language host starts `node <@pulumi/pulumi/cmd/run-policy-pack> <args…> <pack dir>` in the pack's
// directory. The 3.68 host (the newest the module proxy serves) answers RunPlugin "not supported".
// Its generated protobuf types predate the request's `info` (5) and `kind` (6) fields, so they are
// read from the message's unknown fields here.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// aiFleetPolicyMarker is searched for in the binary by scripts/toolchain.sh --status.
const aiFleetPolicyMarker = "ai-fleet-policy-runplugin/1"

// runPluginExtras are the RunPluginRequest fields newer than the 3.68 protobuf types.
type runPluginExtras struct {
	kind             string
	programDirectory string
}

// readRunPluginExtras decodes `kind` (field 6) and `info.program_directory` (field 5, field 2)
// from the unknown fields of a RunPluginRequest.
func readRunPluginExtras(raw []byte) (runPluginExtras, error) {
	var out runPluginExtras
	for len(raw) > 0 {
		num, typ, n := protowire.ConsumeTag(raw)
		if n < 0 {
			return out, protowire.ParseError(n)
		}
		raw = raw[n:]
		if typ != protowire.BytesType || (num != 5 && num != 6) {
			n = protowire.ConsumeFieldValue(num, typ, raw)
			if n < 0 {
				return out, protowire.ParseError(n)
			}
			raw = raw[n:]
			continue
		}
		value, n := protowire.ConsumeBytes(raw)
		if n < 0 {
			return out, protowire.ParseError(n)
		}
		raw = raw[n:]
		if num == 6 {
			out.kind = string(value)
			continue
		}
		for len(value) > 0 { // ProgramInfo: 1 root_directory, 2 program_directory, 3 entry_point, 4 options
			inum, ityp, m := protowire.ConsumeTag(value)
			if m < 0 {
				return out, protowire.ParseError(m)
			}
			value = value[m:]
			if inum == 2 && ityp == protowire.BytesType {
				s, k := protowire.ConsumeBytes(value)
				if k < 0 {
					return out, protowire.ParseError(k)
				}
				out.programDirectory = string(s)
				value = value[k:]
				continue
			}
			m = protowire.ConsumeFieldValue(inum, ityp, value)
			if m < 0 {
				return out, protowire.ParseError(m)
			}
			value = value[m:]
		}
	}
	return out, nil
}

// streamWriter sends what it is given as RunPlugin stdout or stderr messages (one Send at a time).
type streamWriter struct {
	mu     *sync.Mutex
	server pulumirpc.LanguageRuntime_RunPluginServer
	stderr bool
}

func (w streamWriter) Write(p []byte) (int, error) {
	data := append([]byte(nil), p...)
	msg := &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: data}}
	if w.stderr {
		msg = &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: data}}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.server.Send(msg); err != nil {
		return 0, err
	}
	return len(p), nil
}

var _ io.Writer = streamWriter{}

// runPolicyPackPlugin runs a Node.js policy pack for a RunPlugin request of kind "analyzer" and
// streams its output until it exits; any other kind stays unsupported, as in the 3.68 host.
func runPolicyPackPlugin(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer) error {
	extras, err := readRunPluginExtras(req.ProtoReflect().GetUnknown())
	if err != nil {
		return fmt.Errorf("%s: reading RunPluginRequest: %w", aiFleetPolicyMarker, err)
	}
	if extras.kind != "analyzer" {
		return errors.New("not supported")
	}
	dir := extras.programDirectory
	if dir == "" {
		dir = req.GetProgram()
	}
	if dir == "" {
		return fmt.Errorf("%s: RunPlugin for an analyzer without a policy pack directory", aiFleetPolicyMarker)
	}
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		return fmt.Errorf("could not find node on the $PATH: %w", err)
	}
	env := req.GetEnv()
	if len(env) == 0 {
		env = os.Environ()
	}
	// The runner comes from the pack's own dependencies: node resolves it from the pack directory
	// upwards (this repository: ./node_modules at the root, so a root `npm ci` is enough).
	resolve := exec.Command(nodeBin, "-e", "process.stdout.write(require.resolve('@pulumi/pulumi/cmd/run-policy-pack'))")
	resolve.Dir = dir
	resolve.Env = env
	runner, err := resolve.Output()
	if err != nil || len(runner) == 0 {
		return fmt.Errorf("it looks like the policy pack's dependencies are not installed; "+
			"try running npm install or yarn install in %q (Cannot find module '@pulumi/pulumi/cmd/run-policy-pack')", dir)
	}
	args := append([]string{strings.TrimSpace(string(runner))}, req.GetArgs()...)
	args = append(args, dir)
	logging.V(5).Infof("%s: running policy pack in %s: node %v", aiFleetPolicyMarker, dir, args)

	mu := &sync.Mutex{}
	cmd := exec.CommandContext(server.Context(), nodeBin, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout = streamWriter{mu: mu, server: server}
	cmd.Stderr = streamWriter{mu: mu, server: server, stderr: true}
	code := int32(0)
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return fmt.Errorf("problem executing the policy pack (could not run node): %w", err)
		}
		code = int32(exitErr.ExitCode())
	}
	mu.Lock()
	defer mu.Unlock()
	return server.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: code}})
}
