package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gatewayd/gateway/unitgen"
)

// install puts files into dir, all or none. It writes them into a staging
// directory inside dir (on the same file system, so that rename(2) moves
// them), then renames each into its place; if one cannot be moved, those
// already moved are removed again. No file is ever seen half-written, and
// no instance gets some of its files without the others.
//
// The staging directory's name starts with "." and is not a unit name:
// systemd ignores it, and it is gone when install returns.
func install(dir string, files unitgen.Files) (err error) {
	stage, err := os.MkdirTemp(dir, ".gateway-generator-")
	if err != nil {
		return fmt.Errorf("writing the units: %w", err)
	}
	defer os.RemoveAll(stage)
	for _, f := range files {
		if err := create(filepath.Join(stage, filepath.FromSlash(f.Path)), f); err != nil {
			return fmt.Errorf("writing %s: %w", f.Path, err)
		}
	}
	var moved []string
	defer func() {
		if err != nil {
			for _, p := range moved {
				os.Remove(p)
				os.Remove(filepath.Dir(p)) // if now empty; fails, as it should, if not
			}
		}
	}()
	for _, f := range files {
		rel := filepath.FromSlash(f.Path)
		dst := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("installing %s: %w", f.Path, err)
		}
		if err := os.Rename(filepath.Join(stage, rel), dst); err != nil {
			return fmt.Errorf("installing %s: %w", f.Path, err)
		}
		moved = append(moved, dst)
	}
	return nil
}

// create writes f at path: a file of mode 0644, or a symlink.
func create(path string, f unitgen.File) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if f.Link != "" {
		return os.Symlink(f.Link, path)
	}
	return os.WriteFile(path, f.Content, 0o644)
}
