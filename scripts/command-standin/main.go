// Stand-in for the Pulumi "command" provider (pulumi-resource-command), written by
// ai-fleet's scripts/toolchain.sh because the real provider module
// (github.com/pulumi/pulumi-command/provider) is not served by the Go module proxy
// reachable here. It implements only command:local:Command and command:local:run,
// following the documented behaviour of pulumi-command v1.x. NOT the real provider.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
)

// Version is stamped with -ldflags "-X main.Version=...".
var Version = "0.0.0-dev"

type BaseInputs struct {
	Dir                    *string           `pulumi:"dir,optional"`
	Environment            map[string]string `pulumi:"environment,optional"`
	Interpreter            *[]string         `pulumi:"interpreter,optional"`
	Stdin                  *string           `pulumi:"stdin,optional"`
	AddPreviousOutputInEnv *bool             `pulumi:"addPreviousOutputInEnv,optional"`
	Logging                *string           `pulumi:"logging,optional"`
	AssetPaths             *[]string         `pulumi:"assetPaths,optional"`
	ArchivePaths           *[]string         `pulumi:"archivePaths,optional"`
}

type CommandArgs struct {
	BaseInputs
	Create   *string `pulumi:"create,optional"`
	Update   *string `pulumi:"update,optional"`
	Delete   *string `pulumi:"delete,optional"`
	Triggers *[]any  `pulumi:"triggers,optional" provider:"replaceOnChanges"`
}

type CommandState struct {
	CommandArgs
	Stdout string `pulumi:"stdout"`
	Stderr string `pulumi:"stderr"`
}

type Command struct{}

type RunArgs struct {
	BaseInputs
	Command string `pulumi:"command"`
}

type RunState struct {
	RunArgs
	Stdout string `pulumi:"stdout"`
	Stderr string `pulumi:"stderr"`
}

type Run struct{}

func (Run) Invoke(ctx context.Context, req infer.FunctionRequest[RunArgs]) (infer.FunctionResponse[RunState], error) {
	in := req.Input
	stdout, stderr, err := run(ctx, in.Command, in.BaseInputs, nil)
	if err != nil {
		return infer.FunctionResponse[RunState]{}, err
	}
	return infer.FunctionResponse[RunState]{Output: RunState{RunArgs: in, Stdout: stdout, Stderr: stderr}}, nil
}

func (Command) Create(ctx context.Context, req infer.CreateRequest[CommandArgs]) (infer.CreateResponse[CommandState], error) {
	state := CommandState{CommandArgs: req.Inputs}
	id := req.Name + randomSuffix()
	if req.DryRun || req.Inputs.Create == nil {
		return infer.CreateResponse[CommandState]{ID: id, Output: state}, nil
	}
	stdout, stderr, err := run(ctx, *req.Inputs.Create, req.Inputs.BaseInputs, nil)
	state.Stdout, state.Stderr = stdout, stderr
	return infer.CreateResponse[CommandState]{ID: id, Output: state}, err
}

func (Command) Update(ctx context.Context, req infer.UpdateRequest[CommandArgs, CommandState]) (infer.UpdateResponse[CommandState], error) {
	state := CommandState{CommandArgs: req.Inputs, Stdout: req.State.Stdout, Stderr: req.State.Stderr}
	if req.DryRun {
		return infer.UpdateResponse[CommandState]{Output: state}, nil
	}
	cmd := req.Inputs.Update
	if cmd == nil {
		cmd = req.Inputs.Create // pulumi-command: create runs again when update is unset
	}
	if cmd == nil {
		return infer.UpdateResponse[CommandState]{Output: state}, nil
	}
	stdout, stderr, err := run(ctx, *cmd, req.Inputs.BaseInputs, &req.State)
	state.Stdout, state.Stderr = stdout, stderr
	return infer.UpdateResponse[CommandState]{Output: state}, err
}

func (Command) Delete(ctx context.Context, req infer.DeleteRequest[CommandState]) (infer.DeleteResponse, error) {
	if req.State.Delete == nil {
		return infer.DeleteResponse{}, nil
	}
	_, _, err := run(ctx, *req.State.Delete, req.State.BaseInputs, &req.State)
	return infer.DeleteResponse{}, err
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func run(ctx context.Context, command string, in BaseInputs, prev *CommandState) (string, string, error) {
	if (in.AssetPaths != nil && len(*in.AssetPaths) > 0) || (in.ArchivePaths != nil && len(*in.ArchivePaths) > 0) {
		return "", "", fmt.Errorf("assetPaths/archivePaths are not supported by the ai-fleet stand-in command provider")
	}
	interp := []string{"/bin/sh", "-c"}
	if in.Interpreter != nil && len(*in.Interpreter) > 0 {
		interp = *in.Interpreter
	}
	args := append(append([]string{}, interp[1:]...), command)
	c := exec.CommandContext(ctx, interp[0], args...)
	if in.Dir != nil {
		c.Dir = *in.Dir
	}
	c.Env = os.Environ()
	for k, v := range in.Environment {
		c.Env = append(c.Env, k+"="+v)
	}
	if prev != nil && (in.AddPreviousOutputInEnv == nil || *in.AddPreviousOutputInEnv) {
		c.Env = append(c.Env, "PULUMI_COMMAND_STDOUT="+prev.Stdout, "PULUMI_COMMAND_STDERR="+prev.Stderr)
	}
	if in.Stdin != nil {
		c.Stdin = strings.NewReader(*in.Stdin)
	}
	logging := "stdoutAndStderr"
	if in.Logging != nil {
		logging = *in.Logging
	}
	log := p.GetLogger(ctx)
	var outBuf, errBuf bytes.Buffer
	outR, outW := io.Pipe()
	errR, errW := io.Pipe()
	c.Stdout, c.Stderr = outW, errW
	var wg sync.WaitGroup
	pump := func(r io.Reader, buf *bytes.Buffer, show bool) {
		defer wg.Done()
		s := bufio.NewScanner(r)
		s.Buffer(make([]byte, 64*1024), 16*1024*1024)
		for s.Scan() {
			line := s.Text()
			buf.WriteString(line + "\n")
			if show {
				log.InfoStatus(line)
			}
		}
		_, _ = io.Copy(io.Discard, r)
	}
	wg.Add(2)
	go pump(outR, &outBuf, logging == "stdout" || logging == "stdoutAndStderr")
	go pump(errR, &errBuf, logging == "stderr" || logging == "stdoutAndStderr")
	err := c.Run()
	outW.Close()
	errW.Close()
	wg.Wait()
	stdout := strings.TrimSuffix(outBuf.String(), "\n")
	stderr := strings.TrimSuffix(errBuf.String(), "\n")
	if err != nil {
		return stdout, stderr, fmt.Errorf("%w: running %q:\nStdout:\n%s\nStderr:\n%s", err, command, stdout, stderr)
	}
	return stdout, stderr, nil
}

func main() {
	prov, err := infer.NewProviderBuilder().
		WithResources(infer.Resource(Command{})).
		WithFunctions(infer.Function(Run{})).
		WithModuleMap(map[tokens.ModuleName]tokens.ModuleName{"index": "local"}).
		WithDescription("ai-fleet stand-in for the Pulumi Command provider (local:Command, local:run only)").
		Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := prov.Run(context.Background(), "command", Version); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
