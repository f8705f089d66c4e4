package imageio

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/draw"
)

// jpegEXIF returns the TIFF block of the first APP1 "Exif" segment before the
// scan data, or nil.
func jpegEXIF(b []byte) []byte {
	p := 2
	for p+4 <= len(b) {
		if b[p] != 0xff {
			return nil
		}
		m := b[p+1]
		switch {
		case m == 0xff: // fill byte
			p++
			continue
		case m == 0x01 || m == 0xd8 || m >= 0xd0 && m <= 0xd7: // markers without a length
			p += 2
			continue
		case m == 0xda || m == 0xd9: // start of scan, end of image
			return nil
		}
		n := int(binary.BigEndian.Uint16(b[p+2:]))
		if n < 2 || p+2+n > len(b) {
			return nil
		}
		if seg := b[p+4 : p+2+n]; m == 0xe1 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
			return seg[6:]
		}
		p += 2 + n
	}
	return nil
}

// pngEXIF returns the payload of the first eXIf chunk, wherever it is
// (Pillow reads the ones after IDAT too), or nil.
func pngEXIF(b []byte) []byte {
	var exif []byte
	_ = walkPNG(bytes.NewReader(b), func(typ string, length uint32, c *chunkReader) (bool, error) {
		if typ != "eXIf" {
			return true, nil
		}
		data, err := c.data(length)
		exif = data
		return false, err
	})
	return exif
}

// EXIF tag and types read by orientation.
const (
	tagOrientation = 0x0112
	typeShort      = 3
	typeLong       = 4
)

// orientation returns the Orientation tag (1–8) of IFD0 of a TIFF-structured
// EXIF block (an "Exif\0\0" prefix is skipped), or 0 when there is none.
func orientation(t []byte) int {
	t = bytes.TrimPrefix(t, []byte("Exif\x00\x00"))
	if len(t) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	off := uint64(bo.Uint32(t[4:]))
	if off+2 > uint64(len(t)) {
		return 0
	}
	n := uint64(bo.Uint16(t[off:]))
	for e := off + 2; e+12 <= uint64(len(t)) && e < off+2+12*n; e += 12 {
		if bo.Uint16(t[e:]) != tagOrientation {
			continue
		}
		var v int
		switch bo.Uint16(t[e+2:]) {
		case typeShort:
			v = int(bo.Uint16(t[e+8:]))
		case typeLong:
			v = int(bo.Uint32(t[e+8:]) & 0xffff)
		}
		if v < 1 || v > 8 {
			return 0
		}
		return v
	}
	return 0
}

// orient applies EXIF orientation o (2–8) as PIL's ImageOps.exif_transpose
// does. The result has the same pixel type as img when it is one of the
// plain raster types, else *image.NRGBA (images with alpha) or *image.RGBA.
func orient(img image.Image, o int) image.Image {
	if o < 2 || o > 8 {
		return img
	}
	src := plain(img)
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	dst := newLike(src, dw, dh)
	sp, ss, bpp := raster(src)
	dp, ds, _ := raster(dst)
	for y := range dh {
		for x := range dw {
			var sx, sy int
			switch o {
			case 2: // mirror left-right
				sx, sy = w-1-x, y
			case 3: // rotate 180°
				sx, sy = w-1-x, h-1-y
			case 4: // mirror top-bottom
				sx, sy = x, h-1-y
			case 5: // transpose
				sx, sy = y, x
			case 6: // rotate 90° clockwise
				sx, sy = y, h-1-x
			case 7: // transverse
				sx, sy = w-1-y, h-1-x
			case 8: // rotate 90° counter-clockwise
				sx, sy = w-1-y, x
			}
			copy(dp[y*ds+x*bpp:y*ds+x*bpp+bpp], sp[sy*ss+sx*bpp:])
		}
	}
	return dst
}

// plain returns img if it is a raster type that raster knows, else a copy
// converted to *image.NRGBA or, without alpha, *image.RGBA.
func plain(img image.Image) image.Image {
	switch img.(type) {
	case *image.Gray, *image.Gray16, *image.RGBA, *image.RGBA64, *image.NRGBA, *image.NRGBA64, *image.Paletted:
		return img
	}
	if hasAlpha(img) {
		return toNRGBA(img)
	}
	dst := image.NewRGBA(image.Rect(0, 0, img.Bounds().Dx(), img.Bounds().Dy()))
	draw.Draw(dst, dst.Rect, img, img.Bounds().Min, draw.Src)
	return dst
}

// raster returns the pixel bytes of a plain image from its first pixel, the
// stride and the bytes per pixel.
func raster(img image.Image) (pix []uint8, stride, bpp int) {
	switch m := img.(type) {
	case *image.Gray:
		return m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):], m.Stride, 1
	case *image.Paletted:
		return m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):], m.Stride, 1
	case *image.Gray16:
		return m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):], m.Stride, 2
	case *image.RGBA:
		return m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):], m.Stride, 4
	case *image.NRGBA:
		return m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):], m.Stride, 4
	case *image.RGBA64:
		return m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):], m.Stride, 8
	case *image.NRGBA64:
		return m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):], m.Stride, 8
	}
	return nil, 0, 0
}

// newLike returns a w×h image of the same plain type as img.
func newLike(img image.Image, w, h int) image.Image {
	r := image.Rect(0, 0, w, h)
	switch m := img.(type) {
	case *image.Gray:
		return image.NewGray(r)
	case *image.Paletted:
		return image.NewPaletted(r, m.Palette)
	case *image.Gray16:
		return image.NewGray16(r)
	case *image.RGBA:
		return image.NewRGBA(r)
	case *image.RGBA64:
		return image.NewRGBA64(r)
	case *image.NRGBA64:
		return image.NewNRGBA64(r)
	}
	return image.NewNRGBA(r)
}
