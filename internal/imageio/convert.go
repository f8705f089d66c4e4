package imageio

import (
	"encoding/binary"
	"image"
	"image/color"
	"image/draw"

	"github.com/gocomfy/gocomfy/tensor"
)

// RGB is an in-memory 8-bit RGB image without alpha: PIL's mode "RGB", what
// SaveImage writes for a three-channel tensor. The red, green and blue values
// of pixel (x, y) start at Pix[(y-Rect.Min.Y)*Stride+(x-Rect.Min.X)*3].
//
// The standard library has no such type; *image.RGBA would be ambiguous
// because an RGBA tensor whose alpha happens to be all 255 must still be
// written as an RGBA PNG.
type RGB struct {
	Pix    []uint8
	Stride int
	Rect   image.Rectangle
}

// NewRGB returns a black RGB image with the given bounds.
func NewRGB(r image.Rectangle) *RGB {
	return &RGB{Pix: make([]uint8, 3*r.Dx()*r.Dy()), Stride: 3 * r.Dx(), Rect: r}
}

// ColorModel returns color.RGBAModel: every pixel is opaque.
func (p *RGB) ColorModel() color.Model { return color.RGBAModel }

// Bounds returns the image's rectangle.
func (p *RGB) Bounds() image.Rectangle { return p.Rect }

// At returns the colour of pixel (x, y), or transparent black outside the bounds.
func (p *RGB) At(x, y int) color.Color {
	if !(image.Point{x, y}.In(p.Rect)) {
		return color.RGBA{}
	}
	i := p.PixOffset(x, y)
	return color.RGBA{p.Pix[i], p.Pix[i+1], p.Pix[i+2], 0xff}
}

// PixOffset returns the index in Pix of the first byte of pixel (x, y).
func (p *RGB) PixOffset(x, y int) int {
	return (y-p.Rect.Min.Y)*p.Stride + (x-p.Rect.Min.X)*3
}

// Opaque reports true: an RGB image has no alpha.
func (p *RGB) Opaque() bool { return true }

// to8 converts one tensor value to 8 bits as SaveImage does:
// np.clip(255.*x, 0, 255).astype(np.uint8), which truncates (0.5 → 127).
// NaN becomes 0, as the cast does on the platforms ComfyUI runs on.
func to8(x float32) uint8 {
	v := float32(255 * x)
	switch {
	case !(v > 0): // also NaN
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v)
}

// The float values of 8-bit samples: v/255 and 1 - v/255 as float32, the
// results of LoadImage's uint8→float32 division and of its mask = 1 - alpha.
// Tables keep the explicit float32 rounding of each step.
var unit8, inv8 = func() (u, m [256]float32) {
	for v := range 256 {
		u[v] = float32(v) / 255
		m[v] = 1 - u[v]
	}
	return u, m
}()

// unit16 is v/65535 as float32: the value of a 16-bit sample.
func unit16(v uint32) float32 { return float32(v) / 65535 }

// FromTensor returns image b of the batch t as an 8-bit image, converted as
// SaveImage does (clip(255·x, 0, 255), truncated). One channel gives an
// *image.Gray, three an *RGB, four an *image.NRGBA (straight alpha); any other
// channel count returns nil.
func FromTensor(t *tensor.Image, b int) image.Image {
	src := t.Frame(b)
	r := image.Rect(0, 0, t.W, t.H)
	var pix []uint8
	var img image.Image
	switch t.C {
	case 1:
		g := image.NewGray(r)
		pix, img = g.Pix, g
	case 3:
		p := NewRGB(r)
		pix, img = p.Pix, p
	case 4:
		p := image.NewNRGBA(r)
		pix, img = p.Pix, p
	default:
		return nil
	}
	for i, v := range src {
		pix[i] = to8(v)
	}
	return img
}

// hasAlpha reports whether LoadImage would take a mask from img: PyAV reports
// an alpha plane for RGBA, grey+alpha and every palette image, and none for
// RGB, grey and YCbCr. Go's decoders return *image.RGBA and *image.RGBA64 for
// opaque PNG and BMP, so those count as alpha only when some pixel is not
// opaque (a TIFF with associated alpha).
func hasAlpha(img image.Image) bool {
	switch m := img.(type) {
	case *image.NRGBA, *image.NRGBA64, *image.NYCbCrA, *image.Paletted:
		return true
	case *image.RGBA:
		return !m.Opaque()
	case *image.RGBA64:
		return !m.Opaque()
	}
	return false
}

// toFloat writes img's pixels as float32 RGB into rgb (3 values a pixel) and,
// when alpha is not nil, 1 - alpha into alpha (1 value a pixel): LoadImage's
// image and mask. 8-bit sources become v/255 and 16-bit ones v/65535.
func toFloat(img image.Image, rgb, alpha []float32) {
	b := img.Bounds()
	w := b.Dx()
	put8 := func(i int, r, g, bl, a uint8) {
		rgb[3*i], rgb[3*i+1], rgb[3*i+2] = unit8[r], unit8[g], unit8[bl]
		if alpha != nil {
			alpha[i] = inv8[a]
		}
	}
	switch m := img.(type) {
	case *image.NRGBA:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, y):]
			for x := range w {
				p := row[4*x : 4*x+4 : 4*x+4]
				put8((y-b.Min.Y)*w+x, p[0], p[1], p[2], p[3])
			}
		}
	case *image.RGBA:
		if m.Opaque() {
			for y := b.Min.Y; y < b.Max.Y; y++ {
				row := m.Pix[m.PixOffset(b.Min.X, y):]
				for x := range w {
					p := row[4*x : 4*x+4 : 4*x+4]
					put8((y-b.Min.Y)*w+x, p[0], p[1], p[2], 0xff)
				}
			}
			return
		}
		toFloatGeneric(img, rgb, alpha)
	case *image.Gray:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, y):]
			for x := range w {
				v := row[x]
				put8((y-b.Min.Y)*w+x, v, v, v, 0xff)
			}
		}
	case *image.YCbCr:
		ycbcrToFloat(m, nil, put8)
	case *image.NYCbCrA: // lossy WebP with alpha
		ycbcrToFloat(&m.YCbCr, m, put8)
	case *image.Paletted:
		pal := make([]color.NRGBA, 256)
		for i, c := range m.Palette {
			pal[i] = color.NRGBAModel.Convert(c).(color.NRGBA)
		}
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := m.Pix[m.PixOffset(b.Min.X, y):]
			for x := range w {
				c := pal[row[x]]
				put8((y-b.Min.Y)*w+x, c.R, c.G, c.B, c.A)
			}
		}
	default:
		toFloatGeneric(img, rgb, alpha)
	}
}

// ycbcrToFloat passes each pixel of m to put, converted with
// color.YCbCrToRGB as Go's decoders and image/draw do, with alpha from a when
// it is not nil.
func ycbcrToFloat(m *image.YCbCr, a *image.NYCbCrA, put func(i int, r, g, b, a uint8)) {
	b := m.Rect
	i := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			ci := m.COffset(x, y)
			r, g, bl := color.YCbCrToRGB(m.Y[m.YOffset(x, y)], m.Cb[ci], m.Cr[ci])
			alpha := uint8(0xff)
			if a != nil {
				alpha = a.A[a.AOffset(x, y)]
			}
			put(i, r, g, bl, alpha)
			i++
		}
	}
}

// toFloatGeneric is toFloat for any image type, through 16-bit straight
// colour. For 8-bit sources float32(v·257)/65535 equals float32(v)/255
// exactly, since both are the correctly rounded value of the same quotient.
func toFloatGeneric(img image.Image, rgb, alpha []float32) {
	b := img.Bounds()
	i := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := straight(img.At(x, y))
			rgb[3*i], rgb[3*i+1], rgb[3*i+2] = unit16(uint32(c.R)), unit16(uint32(c.G)), unit16(uint32(c.B))
			if alpha != nil {
				alpha[i] = 1 - unit16(uint32(c.A))
			}
			i++
		}
	}
}

// straight returns c as 16-bit straight alpha. Unlike color.NRGBA64Model it
// keeps the colour of fully transparent pixels of straight-alpha colour
// types (Pillow and FFmpeg keep it), and it converts YCbCr with
// color.YCbCrToRGB as Go's decoders and image/draw do.
func straight(c color.Color) color.NRGBA64 {
	switch c := c.(type) {
	case color.NRGBA:
		return color.NRGBA64{uint16(c.R) * 0x101, uint16(c.G) * 0x101, uint16(c.B) * 0x101, uint16(c.A) * 0x101}
	case color.YCbCr:
		r, g, b := color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
		return color.NRGBA64{uint16(r) * 0x101, uint16(g) * 0x101, uint16(b) * 0x101, 0xffff}
	case color.NYCbCrA:
		r, g, b := color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
		return color.NRGBA64{uint16(r) * 0x101, uint16(g) * 0x101, uint16(b) * 0x101, uint16(c.A) * 0x101}
	}
	return color.NRGBA64Model.Convert(c).(color.NRGBA64)
}

// Tensors returns LoadImage's outputs for the decoded frames: IMAGE
// [F,H,W,3] and MASK. Frames whose size differs from the first are skipped,
// as ComfyUI does. When the first frame has an alpha channel (RGBA, grey with
// alpha and palette images, as PyAV reports them) the mask is 1 − alpha,
// [F,H,W]; otherwise it is zeros [F,64,64], ComfyUI's placeholder. Tensors
// returns nil, nil when there are no frames.
func (d *Decoded) Tensors() (*tensor.Image, *tensor.Mask) {
	if len(d.Frames) == 0 {
		return nil, nil
	}
	size := d.Frames[0].Bounds().Size()
	frames := make([]image.Image, 0, len(d.Frames))
	for _, f := range d.Frames {
		if f.Bounds().Size() == size {
			frames = append(frames, f)
		}
	}
	n, w, h := len(frames), size.X, size.Y
	img := tensor.NewImage(n, h, w, 3)
	withAlpha := hasAlpha(frames[0])
	var mask *tensor.Mask
	if withAlpha {
		mask = tensor.NewMask(n, h, w)
	} else {
		mask = tensor.NewMask(n, 64, 64)
	}
	for i, f := range frames {
		var a []float32
		if withAlpha {
			a = mask.Frame(i)
		}
		toFloat(f, img.Frame(i), a)
	}
	return img, mask
}

// toNRGBA converts img to 8-bit straight alpha at the origin (see straight).
func toNRGBA(img image.Image) *image.NRGBA {
	b := img.Bounds()
	dst := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	if _, ok := img.(*image.RGBA); ok {
		draw.Draw(dst, dst.Rect, img, b.Min, draw.Src) // un-premultiplies
		return dst
	}
	for y := range b.Dy() {
		for x := range b.Dx() {
			c := straight(img.At(b.Min.X+x, b.Min.Y+y))
			d := dst.Pix[dst.PixOffset(x, y):]
			d[0], d[1], d[2], d[3] = uint8(c.R>>8), uint8(c.G>>8), uint8(c.B>>8), uint8(c.A>>8)
		}
	}
	return dst
}

// opaqueRGBA returns img's colours with alpha dropped, as Pillow's
// convert("RGB") does (straight colour values, no compositing), as an
// *image.RGBA at the origin, which image/jpeg encodes fastest.
func opaqueRGBA(img image.Image) *image.RGBA {
	b := img.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	var src []uint8
	var stride int
	switch m := img.(type) {
	case *RGB:
		for y := range b.Dy() {
			s, d := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):], dst.Pix[y*dst.Stride:(y+1)*dst.Stride]
			for x := range b.Dx() {
				d[4*x], d[4*x+1], d[4*x+2], d[4*x+3] = s[3*x], s[3*x+1], s[3*x+2], 0xff
			}
		}
		return dst
	case *image.NRGBA:
		src, stride = m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride
	default:
		if hasAlpha(img) {
			n := toNRGBA(img)
			src, stride = n.Pix, n.Stride
		} else {
			draw.Draw(dst, dst.Rect, img, b.Min, draw.Src)
			return dst
		}
	}
	for y := range b.Dy() {
		copy(dst.Pix[y*dst.Stride:(y+1)*dst.Stride], src[y*stride:])
		row := dst.Pix[y*dst.Stride : (y+1)*dst.Stride]
		for x := 3; x < len(row); x += 4 {
			row[x] = 0xff
		}
	}
	return dst
}

// toRGB returns img's colours as *RGB, alpha dropped as by opaqueRGBA.
func toRGB(img image.Image) *RGB {
	src := opaqueRGBA(img)
	dst := NewRGB(src.Rect)
	for i := range dst.Rect.Dx() * dst.Rect.Dy() {
		copy(dst.Pix[3*i:3*i+3], src.Pix[4*i:4*i+3])
	}
	return dst
}

// RGB48 is an in-memory 16-bit RGB image without alpha, which PNG stores as
// colour type 2 at depth 16. The big-endian red, green and blue samples of
// pixel (x, y) start at Pix[(y-Rect.Min.Y)*Stride+(x-Rect.Min.X)*6].
type RGB48 struct {
	Pix    []uint8
	Stride int
	Rect   image.Rectangle
}

// NewRGB48 returns a black RGB48 image with the given bounds.
func NewRGB48(r image.Rectangle) *RGB48 {
	return &RGB48{Pix: make([]uint8, 6*r.Dx()*r.Dy()), Stride: 6 * r.Dx(), Rect: r}
}

// ColorModel returns color.RGBA64Model: every pixel is opaque.
func (p *RGB48) ColorModel() color.Model { return color.RGBA64Model }

// Bounds returns the image's rectangle.
func (p *RGB48) Bounds() image.Rectangle { return p.Rect }

// At returns the colour of pixel (x, y), or transparent black outside the bounds.
func (p *RGB48) At(x, y int) color.Color {
	if !(image.Point{x, y}.In(p.Rect)) {
		return color.RGBA64{}
	}
	s := p.Pix[p.PixOffset(x, y):]
	return color.RGBA64{uint16(s[0])<<8 | uint16(s[1]), uint16(s[2])<<8 | uint16(s[3]), uint16(s[4])<<8 | uint16(s[5]), 0xffff}
}

// PixOffset returns the index in Pix of the first byte of pixel (x, y).
func (p *RGB48) PixOffset(x, y int) int {
	return (y-p.Rect.Min.Y)*p.Stride + (x-p.Rect.Min.X)*6
}

// Opaque reports true: an RGB48 image has no alpha.
func (p *RGB48) Opaque() bool { return true }

// to16 converts one tensor value to 16 bits as SaveImageAdvanced does:
// (x·65535).clamp(0, 65535) cast to int32, which truncates. NaN becomes 0.
func to16(x float32) uint16 {
	v := float32(65535 * x)
	switch {
	case !(v > 0):
		return 0
	case v >= 65535:
		return 65535
	}
	return uint16(v)
}

// FromTensor16 returns image b of the batch t as a 16-bit image, converted
// as SaveImageAdvanced's 16-bit PNG does: three channels give an *RGB48,
// four an *image.NRGBA64 (straight alpha); any other count returns nil.
func FromTensor16(t *tensor.Image, b int) image.Image {
	src := t.Frame(b)
	r := image.Rect(0, 0, t.W, t.H)
	var pix []uint8
	var img image.Image
	switch t.C {
	case 3:
		p := NewRGB48(r)
		pix, img = p.Pix, p
	case 4:
		p := image.NewNRGBA64(r)
		pix, img = p.Pix, p
	default:
		return nil
	}
	for i, v := range src {
		binary.BigEndian.PutUint16(pix[2*i:], to16(v))
	}
	return img
}
