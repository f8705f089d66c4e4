package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// ErrForbidden is returned for a target URL that resolves to, or dials, an
// address webhooks may not reach (private, loopback, link-local and the
// like) without the AllowPrivate option.
var ErrForbidden = errors.New("webhook: target address not allowed")

// Resolver resolves host names; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// guard keeps webhooks off the server's own network (SSRF): a target is
// checked when it is given, by resolving its host and checking every
// address, and again on every dial, since a name may resolve elsewhere by
// then (DNS rebinding).
type guard struct {
	allowPrivate bool
	resolver     Resolver
}

// blocked are the ranges no webhook may reach besides those netip
// classifies (loopback, private, link-local, multicast, unspecified):
// "this network", carrier-grade NAT (where some clouds put their metadata
// service), IETF protocol assignments, benchmarking, the reserved class E
// and broadcast, and the IPv6 discard and documentation prefixes.
var blocked = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("100::/64"),
	netip.MustParsePrefix("2001:db8::/32"),
}

// embedsIPv4 are IPv6 prefixes whose low 32 bits are an IPv4 address the
// packet ends up at (NAT64): that address is checked instead.
var embedsIPv4 = []netip.Prefix{
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
}

// publicAddr reports whether a webhook may reach ip without AllowPrivate.
func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range embedsIPv4 {
		if p.Contains(ip) {
			b := ip.As16()
			ip = netip.AddrFrom4([4]byte(b[12:]))
		}
	}
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return false
	}
	for _, p := range blocked {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// parseTarget checks the form of a webhook URL: absolute http or https,
// with a host.
func parseTarget(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("webhook URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("webhook URL %q: the scheme must be http or https", Redact(raw))
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("webhook URL %q: no host", Redact(raw))
	}
	return u, nil
}

// check parses raw and, unless private targets are allowed, resolves its
// host and refuses it if any address is not public: a name with one
// private address among public ones could be dialled there.
func (g guard) check(ctx context.Context, raw string) error {
	u, err := parseTarget(raw)
	if err != nil || g.allowPrivate {
		return err
	}
	host := u.Hostname()
	addrs := []netip.Addr{}
	if ip, err := netip.ParseAddr(strings.TrimSuffix(host, ".")); err == nil {
		addrs = append(addrs, ip)
	} else if addrs, err = g.resolver.LookupNetIP(ctx, "ip", host); err != nil {
		return fmt.Errorf("webhook URL %q: %w", Redact(raw), err)
	}
	if len(addrs) == 0 {
		return fmt.Errorf("webhook URL %q: %s has no address", Redact(raw), host)
	}
	for _, ip := range addrs {
		if !publicAddr(ip) {
			return fmt.Errorf("%w: %s resolves to %s", ErrForbidden, host, ip)
		}
	}
	return nil
}

// control is the net.Dialer.Control hook: it refuses a connection to an
// address that is not public, whatever name led there.
func (g guard) control(network, address string, _ syscall.RawConn) error {
	if g.allowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbidden, address)
	}
	if !publicAddr(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrForbidden, ap.Addr())
	}
	return nil
}

// Redact returns a URL fit for logs and the delivery log: without user
// information, query or fragment, which may carry credentials.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}

// dialer returns the net.Dialer of webhook deliveries.
func (g guard) dialer() *net.Dialer {
	return &net.Dialer{Timeout: dialTimeout, Control: g.control}
}
