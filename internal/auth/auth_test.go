package auth

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	aliceKey = "alice-key-0123456789abcdef"
	adminKey = "admin-key-0123456789abcdef"
	bobKey   = "bob-key-0123456789abcdef"
)

func TestKeyFile(t *testing.T) {
	file := strings.Join([]string{
		"# gocomfy keys",
		"",
		"alice:" + aliceKey,
		"  *:" + Hash(adminKey) + "  ",
		"bob:" + Hash(bobKey),
	}, "\n")
	var k Keys
	if err := k.Read(strings.NewReader(file)); err != nil {
		t.Fatal(err)
	}
	if k.Len() != 3 {
		t.Fatalf("Len = %d", k.Len())
	}
	cases := []struct {
		key, user string
		ok        bool
	}{
		{aliceKey, "alice", true},
		{adminKey, AnyUser, true},
		{bobKey, "bob", true},
		{Hash(bobKey), "", false}, // the digest is not a key
		{aliceKey + "x", "", false},
		{strings.ToUpper(aliceKey), "", false},
		{"", "", false},
	}
	for _, c := range cases {
		if user, ok := k.Lookup(c.key); user != c.user || ok != c.ok {
			t.Errorf("Lookup(%q) = %q, %v; want %q, %v", c.key, user, ok, c.user, c.ok)
		}
	}
}

func TestEntryErrors(t *testing.T) {
	for _, s := range []string{
		"",
		"no-colon",
		"alice:",
		"alice:short",
		"alice:0123456789abcdef;0123",
		"alice:0123456789abcdef\"0123",
		"alice:0123456789abcdef\\0123",
		"alice:0123456789abcdefé0123",
		":" + aliceKey,
		"__system:" + aliceKey, // ComfyUI's reserved namespace
		".hidden:" + aliceKey,
		"a/b:" + aliceKey,
		"alice:sha256:abcd",
		"alice:sha256:" + strings.Repeat("zz", 32),
		"alice:sha256:" + strings.Repeat("ab", 33),
	} {
		var k Keys
		if err := k.AddEntry(s); err == nil {
			t.Errorf("AddEntry(%q) accepted", s)
		}
	}
	var k Keys
	if err := k.AddList("alice:" + aliceKey + ", bob:" + aliceKey); err == nil {
		t.Error("the same key for two users was accepted")
	}
}

func TestAddList(t *testing.T) {
	var k Keys
	if err := k.AddList("alice:" + aliceKey + ",bob:" + Hash(bobKey) + "\n *:" + adminKey); err != nil {
		t.Fatal(err)
	}
	if user, ok := k.Lookup(bobKey); !ok || user != "bob" {
		t.Errorf("bob: %q %v", user, ok)
	}
	if k.Len() != 3 {
		t.Errorf("Len = %d", k.Len())
	}
}

func TestReadFileReportsLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(path, []byte("alice:"+aliceKey+"\nbroken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var k Keys
	err := k.ReadFile(path)
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("err = %v", err)
	}
	if err := k.ReadFile(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing file was accepted")
	}
}

func TestNewKey(t *testing.T) {
	a, b := NewKey(), NewKey()
	if a == b || len(a) != 43 || strings.ContainsAny(a, "+/=:,") {
		t.Errorf("keys %q %q", a, b)
	}
	var k Keys
	if err := k.Add(AnyUser, a); err != nil {
		t.Fatal(err)
	}
	if _, ok := k.Lookup(b); ok {
		t.Error("another key matched")
	}
}

func TestNilKeys(t *testing.T) {
	var k *Keys
	if k.Len() != 0 {
		t.Error("nil Keys has keys")
	}
	if _, ok := k.Lookup(aliceKey); ok {
		t.Error("nil Keys matched")
	}
}

// FuzzRead checks that no key file makes Read panic, and that every key it
// accepts in clear is found again.
func FuzzRead(f *testing.F) {
	f.Add("alice:" + aliceKey + "\n*:" + Hash(adminKey))
	f.Add("# comment\n\nbob:sha256:" + strings.Repeat("0", 64))
	f.Add("x:y:z\n:::\n")
	f.Fuzz(func(t *testing.T, file string) {
		var k Keys
		if k.Read(strings.NewReader(file)) != nil {
			return
		}
		for _, line := range strings.Split(file, "\n") {
			user, secret, ok := strings.Cut(strings.TrimSpace(line), ":")
			if !ok || strings.HasPrefix(user, "#") || strings.HasPrefix(secret, digestPrefix) {
				continue
			}
			if got, found := k.Lookup(secret); !found || got != user {
				t.Fatalf("key of line %q: %q, %v", line, got, found)
			}
		}
	})
}
