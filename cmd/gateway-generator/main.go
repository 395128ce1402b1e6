// Command gateway-generator is the gateway's systemd generator
// (systemd.generator(7)), installed as
// /usr/lib/systemd/system-generators/gateway-generator:
//
//	gateway-generator normal-dir [early-dir late-dir]
//
// It renders, with package unitgen, what the units take from the config
// files of /etc/gateway, into normal-dir (/run/systemd/generator):
// gateway.toml gives drop-ins for gateway.socket and gateway.service (the
// listen addresses, the timeouts); every other NAME.toml gives the same
// for gateway@NAME.socket and gateway@NAME.service, and the symlink that
// starts gateway@NAME.socket at boot. Hidden files and names not ending in
// ".toml" (such as gateway.toml.dpkg-old) are left alone. The environment
// variable GATEWAY_CONFIG_DIR replaces /etc/gateway, for tests.
//
// A config file that cannot be read, parsed or rendered is reported, and
// nothing is written for its instance; the others are generated as usual.
// Each instance's files are rendered in memory, written to a staging
// directory and only then moved into place, so a unit never gets some of
// its drop-ins and not the others.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gatewayd/gateway/config"
	"github.com/gatewayd/gateway/unitgen"
)

// configDirEnv names the environment variable that replaces
// unitgen.ConfigDir.
const configDirEnv = "GATEWAY_CONFIG_DIR"

func main() {
	log := newLogger(os.Stderr, os.Getenv("SYSTEMD_SCOPE") != "")
	os.Exit(run(os.Args[1:], os.Getenv(configDirEnv), log))
}

// run generates the units of every config file in configDir ("" for
// /etc/gateway) into the normal-dir of args, and returns the exit status.
func run(args []string, configDir string, log *logger) int {
	if len(args) != 1 && len(args) != 3 {
		log.errorf("usage: gateway-generator normal-dir [early-dir late-dir]")
		return 2
	}
	out := args[0]
	if configDir == "" {
		configDir = unitgen.ConfigDir
	}
	names, err := configFiles(configDir)
	if err != nil {
		log.errorf("reading the config files: %v", err)
	}
	for _, name := range names {
		path := filepath.Join(configDir, name)
		instance := strings.TrimSuffix(name, ".toml")
		if instance == "gateway" {
			instance = ""
		}
		if err := generate(out, path, instance); err != nil {
			log.errorf("%v", err)
			log.errorf("%s: nothing generated for %s and %s: fix the file, then run `systemctl daemon-reload`",
				path, unitgen.Unit(instance, "socket"), unitgen.Unit(instance, "service"))
		}
	}
	// Exit 0 even when an instance was left out or nothing could be read:
	// a generator's failure must not break boot. The problem is in the
	// log, naming the file, and the other instances, and every other unit,
	// load as usual. An instance left out keeps only its unit files:
	// gateway@NAME.socket has no address then and does not load;
	// gateway.socket listens on its own default, and gatewayd
	// --check-config (ExecStartPre=) refuses a config it cannot load.
	return 0
}

// configFiles returns the names of the config files in dir, sorted; none
// if dir does not exist.
func configFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	var names []string
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, ".") && strings.HasSuffix(name, ".toml") && !e.IsDir() {
			names = append(names, name)
		}
	}
	return names, err
}

// generate renders the units of the config file at path, for instance,
// and installs them into out, all or nothing.
func generate(out, path, instance string) error {
	if instance != "" {
		if err := unitgen.CheckInstance(instance); err != nil {
			return fmt.Errorf("%s: %w; rename the file", path, err)
		}
	}
	cfg, err := config.Load(path)
	if err != nil {
		return err // config.Errors name the file and line, os errors the file
	}
	files, err := unitgen.Render(cfg, instance)
	if err != nil {
		return err
	}
	return install(out, files)
}
