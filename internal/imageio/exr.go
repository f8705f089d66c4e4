package imageio

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// EXRChannel is one channel of an EXR image: its name and width×height
// samples, row by row.
type EXRChannel struct {
	Name string
	Data []float32
}

// EXRAttribute is one attribute of an EXR header: name, type name ("string",
// "chromaticities", …) and value bytes as the file holds them.
type EXRAttribute struct {
	Name, Type string
	Value      []byte
}

// EncodeEXR writes a single-part scanline OpenEXR file of 32-bit float
// channels, uncompressed, as FFmpeg's exr encoder (which SaveImageAdvanced
// uses through PyAV) writes it with its default options: channels sorted
// by name, the header attributes channels, compression, dataWindow,
// displayWindow, lineOrder, screenWindowCenter, screenWindowWidth, gamma
// (1.0) and writer ("lavc"), then extra (ComfyUI appends its metadata
// there), the offset table and one chunk per scanline. As in ComfyUI's
// files, no long-name flag is set even if an extra name is longer than 31
// bytes.
func EncodeEXR(w io.Writer, width, height int, channels []EXRChannel, extra []EXRAttribute) error {
	if width <= 0 || height <= 0 || width > math.MaxInt32/16 || height > math.MaxInt32 {
		return fmt.Errorf("imageio: cannot write a %dx%d exr", width, height)
	}
	if len(channels) == 0 {
		return errors.New("imageio: exr without channels")
	}
	channels = slices.Clone(channels)
	slices.SortFunc(channels, func(a, b EXRChannel) int { return strings.Compare(a.Name, b.Name) })
	for _, c := range channels {
		if len(c.Data) != width*height {
			return fmt.Errorf("imageio: exr channel %q has %d samples for %dx%d", c.Name, len(c.Data), width, height)
		}
	}

	var chlist []byte
	for _, c := range channels {
		chlist = append(append(chlist, c.Name...), 0)
		// pixel type FLOAT, pLinear and reserved bytes, x and y sampling 1
		chlist = append(chlist, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0)
	}
	window := le32s(0, 0, uint32(width-1), uint32(height-1))
	one := le32s(math.Float32bits(1))
	attrs := []EXRAttribute{
		{"channels", "chlist", append(chlist, 0)},
		{"compression", "compression", []byte{0}},
		{"dataWindow", "box2i", window},
		{"displayWindow", "box2i", window},
		{"lineOrder", "lineOrder", []byte{0}},
		{"screenWindowCenter", "v2f", make([]byte, 8)},
		{"screenWindowWidth", "float", one},
		{"gamma", "float", one},
		{"writer", "string", []byte("lavc")},
	}

	bw := bufio.NewWriterSize(w, 64<<10)
	bw.Write(le32s(20000630, 2)) // magic; version 2, single-part scanline
	var header int64 = 8
	for _, a := range append(attrs, extra...) {
		bw.WriteString(a.Name)
		bw.WriteByte(0)
		bw.WriteString(a.Type)
		bw.WriteByte(0)
		bw.Write(le32s(uint32(len(a.Value))))
		bw.Write(a.Value)
		header += int64(len(a.Name) + len(a.Type) + 6 + len(a.Value))
	}
	bw.WriteByte(0)
	header++

	lineBytes := int64(len(channels)) * int64(width) * 4
	offset := header + 8*int64(height)
	for range height {
		bw.Write(binary.LittleEndian.AppendUint64(nil, uint64(offset)))
		offset += 8 + lineBytes
	}
	line := make([]byte, 0, 8+lineBytes)
	for y := range height {
		line = append(line[:0], le32s(uint32(y), uint32(lineBytes))...)
		for _, c := range channels {
			for _, v := range c.Data[y*width : (y+1)*width] {
				line = binary.LittleEndian.AppendUint32(line, math.Float32bits(v))
			}
		}
		bw.Write(line)
	}
	return bw.Flush()
}

// le32s returns the values as consecutive little-endian 32-bit words.
func le32s(vs ...uint32) []byte {
	b := make([]byte, 0, 4*len(vs))
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return b
}

// SRGBToLinear is SaveImageAdvanced's srgb_to_linear for one value, in
// float32 steps as torch computes it: v/12.92 up to 0.04045, else
// ((max(v, 0) + 0.055)/1.055)^2.4.
func SRGBToLinear(v float32) float32 {
	if v <= 0.04045 {
		return v / 12.92
	}
	return float32(math.Pow(float64((max(v, 0)+0.055)/1.055), 2.4))
}

// The constants of the inverse HLG OETF (BT.2100 table 5), as
// SaveImageAdvanced writes them.
const (
	hlgA = 0.17883277
	hlgB = 0.28466892
	hlgC = 0.55991072928
)

// HLGToLinear is SaveImageAdvanced's hlg_to_linear for one value, in
// float32 steps: v²/3 up to 0.5, else (exp((max(v, c) − c)/a) + b)/12.
func HLGToLinear(v float32) float32 {
	if v <= 0.5 {
		return v * v / 3
	}
	return (float32(math.Exp(float64((max(v, hlgC)-hlgC)/hlgA))) + hlgB) / 12
}
