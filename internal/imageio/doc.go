// Package imageio decodes and encodes images as ComfyUI does: LoadImage's
// frames, image and mask ([Decode], [Decoded.Tensors]), SaveImage's 8-bit
// conversion and PNG files with text chunks ([FromTensor], [EncodePNG]),
// reading those chunks back ([ReadPNGText]), and the /view route's previews
// and channel selections ([ParsePreview], [EncodePreview], [Channel]).
//
// ComfyUI's LoadImage decodes with PyAV (FFmpeg) and falls back to Pillow for
// what PyAV cannot read (animated WebP); this package follows whichever of
// the two ComfyUI uses for a format. Known differences:
//
//   - JPEG and lossy WebP pixels come from Go's decoders (golang.org/x/image
//     for WebP), whose IDCT and chroma upsampling differ from FFmpeg's: values
//     can be a few levels apart. PNG, GIF, BMP, TIFF and lossless WebP decode
//     exactly.
//   - APNG files yield only their default image (PyAV returns every frame);
//     multi-page TIFFs their first page.
//   - 16-bit PNGs load as v/65535, as PyAV's float conversion gives.
//   - EncodePNG's files are not byte-identical to Pillow's: every chunk but
//     IDAT is, and so are the filtered rows inside IDAT, but the deflate
//     stream comes from klauspost/compress and is usually smaller.
//   - /view with channel=a keeps the alpha of grey+alpha PNGs and GIFs,
//     where Pillow sends 255 for any image whose mode is not "RGBA".
package imageio
