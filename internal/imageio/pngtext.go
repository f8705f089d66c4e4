package imageio

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"unicode/utf8"
)

const pngSignature = "\x89PNG\r\n\x1a\n"

// MaxTextBytes bounds one PNG text value, raw or decompressed, so that a
// crafted zTXt chunk cannot inflate without limit. ComfyUI workflows are a
// few megabytes at most.
const MaxTextBytes = 64 << 20

// TextChunk is one PNG text entry: a tEXt, zTXt or iTXt chunk (and
// ComfyUI's private "comf" chunks of animated PNGs), decoded to UTF-8.
type TextChunk struct {
	Key, Value string
}

// chunkReader reads the data of the current chunk for walkPNG's callback.
type chunkReader struct {
	r        io.Reader
	typ      [4]byte
	consumed bool
}

// data reads the current chunk's data of the given length and checks its CRC.
func (c *chunkReader) data(length uint32) ([]byte, error) {
	if length > MaxTextBytes {
		return nil, fmt.Errorf("imageio: png %s chunk of %d bytes is above the limit of %d", c.typ[:], length, MaxTextBytes)
	}
	c.consumed = true
	// ReadAll grows with the data actually present, so a lying length
	// costs nothing.
	buf, err := io.ReadAll(io.LimitReader(c.r, int64(length)+4))
	if err != nil {
		return nil, err
	}
	if len(buf) < int(length)+4 {
		return nil, io.ErrUnexpectedEOF
	}
	data, sum := buf[:length], binary.BigEndian.Uint32(buf[length:])
	if crc32.Update(crc32.ChecksumIEEE(c.typ[:]), crc32.IEEETable, data) != sum {
		return nil, fmt.Errorf("imageio: png %s chunk has a bad CRC", c.typ[:])
	}
	return data, nil
}

// walkPNG checks the PNG signature and calls fn for each chunk header until
// IEND, or until fn returns false or an error. fn may read the chunk's data
// with c.data; chunks it does not read are skipped without being read into
// memory.
func walkPNG(r io.Reader, fn func(typ string, length uint32, c *chunkReader) (bool, error)) error {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil || string(hdr[:]) != pngSignature {
		return errors.New("imageio: not a png file")
	}
	c := &chunkReader{r: r}
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		length := binary.BigEndian.Uint32(hdr[:4])
		if length > 1<<31-1 {
			return errors.New("imageio: png chunk length out of range")
		}
		copy(c.typ[:], hdr[4:])
		c.consumed = false
		typ := string(c.typ[:])
		more, err := fn(typ, length, c)
		if err != nil || !more {
			return err
		}
		if !c.consumed {
			if err := skip(r, int64(length)+4); err != nil {
				return err
			}
		}
		if typ == "IEND" {
			return nil
		}
	}
}

// skip advances r by n bytes, seeking when it can.
func skip(r io.Reader, n int64) error {
	if s, ok := r.(io.Seeker); ok {
		_, err := s.Seek(n, io.SeekCurrent)
		return err
	}
	if _, err := io.CopyN(io.Discard, r, n); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	return nil
}

// ReadPNGText returns the text chunks of a PNG file in file order, before and
// after the image data, without decoding pixels. Values are decoded as Pillow
// does: tEXt and zTXt as Latin-1, iTXt as UTF-8; malformed iTXt chunks are
// ignored as Pillow ignores them. A key may repeat; Pillow's info dict keeps
// the last value.
//
// On an error (not a PNG, truncated file, bad CRC, bad compressed text, a
// value above MaxTextBytes) ReadPNGText returns the chunks read before it
// along with the error.
func ReadPNGText(r io.Reader) ([]TextChunk, error) {
	var out []TextChunk
	err := walkPNG(r, func(typ string, length uint32, c *chunkReader) (bool, error) {
		switch typ {
		case "tEXt", "zTXt", "iTXt", "comf":
		default:
			return true, nil
		}
		data, err := c.data(length)
		if err != nil {
			return false, err
		}
		t, ok, err := parseText(typ, data)
		if ok {
			out = append(out, t)
		}
		return err == nil, err
	})
	return out, err
}

// parseText decodes one text chunk; ok is false for a chunk to ignore.
func parseText(typ string, data []byte) (t TextChunk, ok bool, err error) {
	key, rest, _ := bytes.Cut(data, []byte{0})
	t.Key = latin1(key)
	switch typ {
	case "tEXt", "comf":
		t.Value = latin1(rest)
		return t, true, nil
	case "zTXt":
		if len(rest) == 0 {
			return t, true, nil
		}
		if rest[0] != 0 {
			return t, false, fmt.Errorf("imageio: png zTXt %q: unknown compression method %d", t.Key, rest[0])
		}
		v, err := inflate(rest[1:], MaxTextBytes)
		if err != nil {
			return t, false, fmt.Errorf("imageio: png zTXt %q: %w", t.Key, err)
		}
		t.Value = latin1(v)
		return t, true, nil
	}
	// iTXt: compression flag, method, language tag\0, translated key\0, text.
	if len(rest) < 2 {
		return t, false, nil
	}
	compressed, method := rest[0], rest[1]
	parts := bytes.SplitN(rest[2:], []byte{0}, 3)
	if len(parts) < 3 {
		return t, false, nil
	}
	v := parts[2]
	if compressed != 0 {
		if method != 0 {
			return t, false, nil
		}
		if v, err = inflate(v, MaxTextBytes); err != nil {
			return t, false, fmt.Errorf("imageio: png iTXt %q: %w", t.Key, err)
		}
	}
	if !utf8.Valid(v) || !utf8.Valid(parts[0]) || !utf8.Valid(parts[1]) {
		return t, false, nil
	}
	t.Value = string(v)
	return t, true, nil
}

// inflate decompresses a zlib stream of at most limit bytes.
func inflate(b []byte, limit int) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	v, err := io.ReadAll(io.LimitReader(zr, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(v) > limit {
		return nil, fmt.Errorf("decompressed text is above the limit of %d bytes", limit)
	}
	return v, nil
}

// latin1 decodes ISO 8859-1 bytes to a UTF-8 string.
func latin1(b []byte) string {
	if isASCII(b) {
		return string(b)
	}
	buf := make([]rune, len(b))
	for i, c := range b {
		buf[i] = rune(c)
	}
	return string(buf)
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// toLatin1 encodes s as ISO 8859-1; ok is false if some rune is above U+00FF.
func toLatin1(s string) (b []byte, ok bool) {
	b = make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return nil, false
		}
		b = append(b, byte(r))
	}
	return b, true
}
