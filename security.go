package gocomfy

import (
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/gocomfy/gocomfy/internal/auth"
)

// apiKeys returns the API keys requests must present: those of
// Config.APIKeys and Config.APIKeyFile or, on a non-loopback address with
// none given, a new administrator token, logged once with the URL that
// opens the frontend with it. nil means the server is open: on loopback
// without keys, as ComfyUI is, or with DisableAuth.
func (a *App) apiKeys(ln net.Listener) (*auth.Keys, error) {
	keys := &auth.Keys{}
	for _, list := range a.cfg.APIKeys {
		if err := keys.AddList(list); err != nil {
			return nil, fmt.Errorf("API keys: %w", err)
		}
	}
	if a.cfg.APIKeyFile != "" {
		before := keys.Len()
		if err := keys.ReadFile(a.cfg.APIKeyFile); err != nil {
			return nil, fmt.Errorf("API key file: %w", err)
		}
		if keys.Len() == before { // asked for keys: never fall back to an open server
			return nil, fmt.Errorf("API key file %s holds no key", a.cfg.APIKeyFile)
		}
	}
	loopback := isLoopbackListener(ln)
	switch {
	case a.cfg.DisableAuth:
		if keys.Len() > 0 {
			a.log.Warn("authentication is disabled: the API keys given are not used")
		}
		if !loopback {
			a.log.Warn("authentication is disabled on a non-loopback address: whoever reaches it can run workflows")
		}
		return nil, nil
	case keys.Len() > 0:
		return keys, nil
	case loopback:
		return nil, nil
	}
	token := auth.NewKey()
	if err := keys.Add(auth.AnyUser, token); err != nil {
		return nil, err
	}
	// Logged through the App's own logger, not the one whose lines the
	// frontend's log panel serves: a user's key must not reveal the token.
	a.log.Warn("no API key is configured for a non-loopback address, so requests need this admin token "+
		"(or start with --api-key-file, or --disable-auth)", "url", a.tokenURL(ln, token))
	return keys, nil
}

// isLoopbackListener reports whether ln only accepts connections from this
// machine.
func isLoopbackListener(ln net.Listener) bool {
	addr, ok := ln.Addr().(*net.TCPAddr)
	return ok && addr.IP.IsLoopback()
}

// tokenURL is the address that opens the frontend with token: the
// listener's, or the machine's name when it listens on every interface.
func (a *App) tokenURL(ln net.Listener, token string) string {
	host, port := "localhost", ""
	if addr, ok := ln.Addr().(*net.TCPAddr); ok {
		host, port = addr.IP.String(), strconv.Itoa(addr.Port)
		if addr.IP.IsUnspecified() {
			if name, err := os.Hostname(); err == nil {
				host = name
			}
		}
	}
	scheme := "http"
	if a.cfg.TLSCertFile != "" {
		scheme = "https"
	}
	return fmt.Sprintf("%s://%s/?token=%s", scheme, net.JoinHostPort(host, port), token)
}
