// Package tensor holds the values that flow between image nodes, laid out as
// ComfyUI's torch tensors are, so that node code ported from ComfyUI indexes
// them the same way.
//
//   - [Image] is IMAGE: float32 [B,H,W,C] with values in 0..1 (C is 3, or 4 with alpha).
//   - [Mask] is MASK: float32 [B,H,W].
//   - [Latent] is LATENT: a dict in ComfyUI; here a struct whose Samples is [B,C,H,W].
//
// Values are treated as immutable once a node has returned them: a node that
// changes pixels allocates a new value (the executor caches outputs and may hand
// the same value to several consumers).
package tensor

// Image is a batch of images, float32 [B,H,W,C] in row-major order: the value
// of channel c of pixel (x, y) of image b is Pix[((b*H+y)*W+x)*C+c].
type Image struct {
	B, H, W, C int
	Pix        []float32
}

// NewImage returns a zeroed image batch.
func NewImage(b, h, w, c int) *Image {
	return &Image{B: b, H: h, W: w, C: c, Pix: make([]float32, b*h*w*c)}
}

// Shape returns [B, H, W, C].
func (m *Image) Shape() []int { return []int{m.B, m.H, m.W, m.C} }

// Frame returns the pixels of image b of the batch (a sub-slice, not a copy).
func (m *Image) Frame(b int) []float32 {
	n := m.H * m.W * m.C
	return m.Pix[b*n : (b+1)*n]
}

// Fill sets every pixel of every image to the given channel values; channels
// beyond len(v) are left unchanged.
func (m *Image) Fill(v ...float32) {
	for i := 0; i < len(m.Pix); i += m.C {
		copy(m.Pix[i:i+m.C], v)
	}
}

// Mask is a batch of masks, float32 [B,H,W]; pixel (x, y) of mask b is
// Pix[(b*H+y)*W+x].
type Mask struct {
	B, H, W int
	Pix     []float32
}

// NewMask returns a zeroed mask batch.
func NewMask(b, h, w int) *Mask {
	return &Mask{B: b, H: h, W: w, Pix: make([]float32, b*h*w)}
}

// Shape returns [B, H, W].
func (m *Mask) Shape() []int { return []int{m.B, m.H, m.W} }

// Frame returns mask b of the batch (a sub-slice, not a copy).
func (m *Mask) Frame(b int) []float32 {
	n := m.H * m.W
	return m.Pix[b*n : (b+1)*n]
}

// Tensor is a dense float32 array of any rank, row-major.
type Tensor struct {
	Shape []int
	Data  []float32
}

// New returns a zeroed tensor of the given shape.
func New(shape ...int) *Tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, n)}
}

// Latent is ComfyUI's LATENT dict: {"samples": [B,C,H,W], "noise_mask": …,
// "batch_index": […]}. NoiseMask and BatchIndex are nil when absent.
type Latent struct {
	Samples    *Tensor
	NoiseMask  *Tensor
	BatchIndex []int
}
