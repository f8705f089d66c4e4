package imageio

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"io"
	"strings"
	"testing"
)

// Pillow wrote text_chunks.png with tEXt, zTXt, iTXt (plain and compressed,
// with language and translated key) before the image data, and a tEXt and
// a "comf" chunk after it.
func TestReadPNGTextPillow(t *testing.T) {
	got, err := ReadPNGText(bytes.NewReader(readFile(t, "text_chunks.png")))
	if err != nil {
		t.Fatal(err)
	}
	want := []TextChunk{
		{"plain", "Latin-1 é"},
		{"zipped", strings.Repeat("x", 300) + " ü"},
		{"intl", "雪"},
		{"intlzip", strings.Repeat("☃", 50)},
		{"late", "after IDAT"},
		{"prompt", `{"1": 2}`},
	}
	if len(got) != len(want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("chunk %d: got %q, want %q", i, got[i], want[i])
		}
	}
	got, err = ReadPNGText(bytes.NewReader(readFile(t, "pil_rgb_l4.png")))
	if err != nil || len(got) != 4 || got[0].Key != "prompt" || got[1].Key != "workflow" ||
		got[2] != (TextChunk{"café", "naïve"}) || got[3] != (TextChunk{"unicode", "雪 ☃"}) {
		t.Errorf("pil_rgb_l4.png: %q, %v", got, err)
	}
}

// pngWith returns a 1×1 PNG with extra chunks before IDAT.
func pngWith(t *testing.T, chunks ...rawChunk) []byte {
	t.Helper()
	b := encodePNG(t, photoLike(1, 1), 1, nil)
	idat := 8 + 12 + 13 // after the signature and IHDR
	var extra []byte
	for _, c := range chunks {
		extra = appendChunk(extra, c.typ, c.data)
	}
	return append(append(append([]byte{}, b[:idat]...), extra...), b[idat:]...)
}

func appendChunk(b []byte, typ string, data []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	b = append(b, typ...)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.Update(crc32.ChecksumIEEE([]byte(typ)), crc32.IEEETable, data))
}

func zlibBytes(b []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestReadPNGTextCases(t *testing.T) {
	for _, tc := range []struct {
		name    string
		chunks  []rawChunk
		want    []TextChunk
		wantErr bool
	}{
		{"tEXt without NUL", []rawChunk{{"tEXt", []byte("key")}}, []TextChunk{{"key", ""}}, false},
		{"Latin-1 bytes", []rawChunk{{"tEXt", []byte("k\xe9\x00v\xff")}}, []TextChunk{{"ké", "vÿ"}}, false},
		{"empty zTXt", []rawChunk{{"zTXt", []byte("k\x00")}}, []TextChunk{{"k", ""}}, false},
		{"zTXt bad method", []rawChunk{{"zTXt", []byte("k\x00\x01xx")}}, nil, true},
		{"zTXt bad data", []rawChunk{{"zTXt", []byte("k\x00\x00garbage")}}, nil, true},
		{"iTXt short", []rawChunk{{"iTXt", []byte("k\x00\x00")}}, nil, false},
		{"iTXt missing parts", []rawChunk{{"iTXt", []byte("k\x00\x00\x00lang")}}, nil, false},
		{"iTXt bad utf-8", []rawChunk{{"iTXt", []byte("k\x00\x00\x00\x00\x00\xff")}}, nil, false},
		{"iTXt unknown method", []rawChunk{{"iTXt", []byte("k\x00\x01\x05\x00\x00xx")}}, nil, false},
		{"iTXt compressed", []rawChunk{{"iTXt", append([]byte("k\x00\x01\x00en\x00K\x00"), zlibBytes([]byte("ünï"))...)}}, []TextChunk{{"k", "ünï"}}, false},
		{"other chunks skipped", []rawChunk{{"tIME", make([]byte, 7)}, {"tEXt", []byte("a\x00b")}}, []TextChunk{{"a", "b"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadPNGText(bytes.NewReader(pngWith(t, tc.chunks...)))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("got %q, want %q", got[i], tc.want[i])
				}
			}
		})
	}
}

func TestInflateLimit(t *testing.T) {
	if v, err := inflate(zlibBytes(make([]byte, 1000)), 1000); err != nil || len(v) != 1000 {
		t.Errorf("at the limit: %d bytes, %v", len(v), err)
	}
	if _, err := inflate(zlibBytes(make([]byte, 1001)), 1000); err == nil {
		t.Error("above the limit: want an error")
	}
}

func TestReadPNGTextErrors(t *testing.T) {
	good := pngWith(t, rawChunk{"tEXt", []byte("a\x00b")})
	badCRC := bytes.Clone(good)
	badCRC[8+25+12+3-1] ^= 1 // last byte of the tEXt data
	for name, b := range map[string][]byte{
		"not png":   []byte("GIF89a"),
		"empty":     nil,
		"truncated": good[:len(good)-20],
		"no IEND":   good[:len(good)-12],
		"bad CRC":   badCRC,
		"huge":      append(append([]byte{}, good[:33]...), 0x7f, 0xff, 0xff, 0xff, 't', 'E', 'X', 't'),
	} {
		if _, err := ReadPNGText(bytes.NewReader(b)); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
	// Text read before the damage is returned with the error.
	got, err := ReadPNGText(bytes.NewReader(good[:len(good)-12]))
	if err == nil || len(got) != 1 {
		t.Errorf("partial: %q, %v", got, err)
	}
	// A reader that cannot seek is skipped through.
	got, err = ReadPNGText(io.MultiReader(bytes.NewReader(good)))
	if err != nil || len(got) != 1 {
		t.Errorf("non-seeker: %q, %v", got, err)
	}
}
