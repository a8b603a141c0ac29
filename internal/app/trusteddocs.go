package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"catalog-bff/graph"
)

// trustedConfig is the trusted documents' configuration.
type trustedConfig struct {
	mode string // TRUSTED_DOCUMENTS: off, allow, require, or "" to follow the file
	file string // TRUSTED_DOCUMENTS_FILE
}

// resolve returns the mode in effect. A production service given a
// manifest runs nothing else by default: that is what a manifest is for.
func (c trustedConfig) resolve(production bool) (graph.TrustMode, error) {
	if c.mode == "" {
		switch {
		case c.file == "":
			return graph.TrustOff, nil
		case production:
			return graph.TrustRequire, nil
		default:
			return graph.TrustAllow, nil
		}
	}
	m, err := graph.ParseTrustMode(c.mode)
	if err != nil {
		return "", fmt.Errorf("TRUSTED_DOCUMENTS: %w", err)
	}
	if m != graph.TrustOff && c.file == "" {
		return "", fmt.Errorf("TRUSTED_DOCUMENTS=%s needs TRUSTED_DOCUMENTS_FILE", m)
	}
	return m, nil
}

// openTrusted loads the manifest, and reloads it on SIGHUP until ctx is
// done. It returns nil when trusted documents are off.
func openTrusted(ctx context.Context, c trustedConfig, production bool, log *slog.Logger) (*graph.TrustedDocuments, error) {
	mode, err := c.resolve(production)
	if err != nil || mode == graph.TrustOff {
		return nil, err
	}
	td, err := graph.NewTrustedDocuments(mode, c.file, log)
	if err != nil {
		return nil, err
	}
	log.Info("trusted documents", "mode", string(mode), "file", c.file, "documents", td.Len())
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				_ = td.Reload() // logs either way; a broken manifest keeps the one in use
			}
		}
	}()
	return td, nil
}
