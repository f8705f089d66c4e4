package webhook

import (
	"context"
	"errors"
	"net/netip"
	"testing"
)

func TestPublicAddr(t *testing.T) {
	for _, tc := range []struct {
		ip     string
		public bool
	}{
		{"93.184.216.34", true},
		{"2606:2800:220:1:248:1893:25c8:1946", true},
		{"127.0.0.1", false},
		{"::1", false},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"192.168.1.1", false},
		{"169.254.169.254", false}, // cloud metadata
		{"fe80::1", false},
		{"fc00::1", false},
		{"0.0.0.0", false},
		{"::", false},
		{"100.100.100.200", false}, // carrier-grade NAT
		{"224.0.0.1", false},
		{"255.255.255.255", false},
		{"::ffff:127.0.0.1", false},  // IPv4-mapped
		{"64:ff9b::7f00:1", false},   // NAT64 of 127.0.0.1
		{"64:ff9b::5db8:d822", true}, // NAT64 of a public address
	} {
		if got := publicAddr(netip.MustParseAddr(tc.ip)); got != tc.public {
			t.Errorf("publicAddr(%s) = %v", tc.ip, got)
		}
	}
}

// fakeResolver answers from a map.
type fakeResolver map[string][]string

func (r fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	addrs, ok := r[host]
	if !ok {
		return nil, errors.New("no such host")
	}
	out := make([]netip.Addr, len(addrs))
	for i, a := range addrs {
		out[i] = netip.MustParseAddr(a)
	}
	return out, nil
}

func TestCheck(t *testing.T) {
	r := fakeResolver{
		"public.example": {"93.184.216.34"},
		"mixed.example":  {"93.184.216.34", "10.0.0.5"},
		"local.example":  {"127.0.0.1"},
		"empty.example":  {},
	}
	for _, tc := range []struct {
		url          string
		allowPrivate bool
		ok           bool
		forbidden    bool
	}{
		{"https://public.example/hook", false, true, false},
		{"http://public.example:8080/hook?token=x", false, true, false},
		{"https://mixed.example/hook", false, false, true}, // every address counts
		{"https://local.example/hook", false, false, true},
		{"http://127.0.0.1:9000/", false, false, true},
		{"http://[::1]/", false, false, true},
		{"http://169.254.169.254/latest/meta-data", false, false, true},
		{"http://localhost./", false, false, false}, // does not resolve here: refused anyway
		{"https://empty.example/", false, false, false},
		{"https://local.example/hook", true, true, false},
		{"http://127.0.0.1:9000/", true, true, false},
		{"ftp://public.example/", false, false, false},
		{"/relative", false, false, false},
		{"http:///nohost", true, false, false},
		{"://bad", true, false, false},
	} {
		g := guard{allowPrivate: tc.allowPrivate, resolver: r}
		err := g.check(context.Background(), tc.url)
		if (err == nil) != tc.ok || errors.Is(err, ErrForbidden) != tc.forbidden {
			t.Errorf("check(%q, allowPrivate=%v): %v", tc.url, tc.allowPrivate, err)
		}
	}
}

func TestControl(t *testing.T) {
	for _, tc := range []struct {
		addr         string
		allowPrivate bool
		ok           bool
	}{
		{"93.184.216.34:443", false, true},
		{"127.0.0.1:80", false, false},
		{"[fe80::1%eth0]:80", false, false},
		{"10.0.0.1:80", true, true},
		{"garbage", false, false},
	} {
		err := guard{allowPrivate: tc.allowPrivate}.control("tcp", tc.addr, nil)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrForbidden)) {
			t.Errorf("control(%s): %v", tc.addr, err)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:pw@hooks.example/x/y?token=secret#frag": "https://hooks.example/x/y",
		"http://127.0.0.1:8080/hook":                          "http://127.0.0.1:8080/hook",
		"http://[::1/":                                        "(invalid URL)",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
