// Package pilquant reproduces Pillow 9.4's colour quantization of RGB
// images, which ComfyUI's ImageQuantize calls: Image.quantize(colors) with
// its default method (median cut, libImaging/Quant.c, without k-means) to
// make a palette, then Image.quantize(palette=...) (libImaging/Convert.c
// topalette) to map the pixels to it, with or without Floyd-Steinberg
// dithering, using the palette's colour cache (libImaging/Palette.c).
//
// Images are packed 8-bit RGB, row by row, three bytes a pixel. Results are
// Pillow's to the bit, including its quirks, marked [quirk] where they show.
package pilquant

import "errors"

// Palette is the palette of a Pillow "P" image: always 256 entries. Median
// cut fills the entries it does not use with black, and the colour mapping
// searches all 256 [quirk]: a dark pixel can map to an unused black entry.
type Palette [256][3]uint8

// ErrColors is Pillow's "bad number of colors": colors must be in [1, 256].
var ErrColors = errors.New("bad number of colors")
