// Command catalog-bff serves product detail pages over GraphQL.
//
//	go run .                         # serve on :8080, embedded SQLite by default
//	go run . seed -products 100000   # fill the configured database
//
// Configuration comes from the environment, and flags of the same meaning
// override it; `go run . -h` lists them. The service itself, built from
// that configuration, is internal/app's App: main runs it, and so does
// every test that starts the service.
package main

//go:generate go tool gqlgen generate

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"catalog-bff/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := app.Run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	var usage app.UsageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.As(err, &usage):
		fmt.Fprintln(os.Stderr, "catalog-bff:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "catalog-bff:", err)
		os.Exit(1)
	}
}
