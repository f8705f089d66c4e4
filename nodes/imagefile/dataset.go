package imagefile

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gocomfy/gocomfy/internal/files"
	"github.com/gocomfy/gocomfy/internal/imageio"
	"github.com/gocomfy/gocomfy/node"
	"github.com/gocomfy/gocomfy/tensor"
)

// The folder nodes of comfy_extras.nodes_dataset. ComfyUI joins the folder
// names they take from the workflow to its input and output folders
// unchecked; here every name goes through the folder's os.Root, and one
// that leaves it fails as ComfyUI's LoadImage and get_save_image_path fail
// on such names.

// modDataset is the python_module of the nodes_dataset classes.
const modDataset = "comfy_extras.nodes_dataset"

// datasetExtensions are the file name endings the loaders take, compared
// in lower case.
var datasetExtensions = []string{".png", ".jpg", ".jpeg", ".webp"}

var loadImageDataSetFromFolder = node.New(node.Info{ID: "LoadImageDataSetFromFolder",
	DisplayName: "Load Image (from Folder)", Category: "image", Module: modDataset, Format: node.V3,
	Experimental: true,
	Description: "Load a dataset of images from a specified folder and return a list of images. " +
		"Supported formats: PNG, JPG, JPEG, WEBP.",
	SearchAliases: []string{"load folder", "load from folder", "load dataset", "load images", "import dataset"}},
	func(s *node.Schema) node.RunFunc {
		folder := s.Combo("folder").Dynamic(inputSubfolders).Tooltip("The folder to load images from.")
		out := node.Output(s, node.Image, "images").List().Tooltip("List of loaded images")
		return func(ctx context.Context, c *node.Call) error {
			dir, names, err := datasetFiles(c, folder.Get(c))
			if err != nil {
				return err
			}
			images, err := loadDataset(ctx, c, dir, names)
			if err != nil {
				return err
			}
			out.SetList(c, images)
			return nil
		}
	})

// inputSubfolders is ComfyUI's get_input_subfolders: every folder under
// the input folder, at any depth, as slash-separated names sorted by code
// point. As os.walk does, it does not descend into symbolic links, nor list
// them; names that are not UTF-8, which no prompt could name, are left out.
func inputSubfolders() []string {
	f := serverFolders.Load()
	if f == nil || f.Input == nil {
		return nil
	}
	var names []string
	fs.WalkDir(f.Input.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil // unreadable folders are skipped, as os.walk does
		}
		if name != "." && utf8.ValidString(name) {
			names = append(names, name)
		}
		return nil
	})
	slices.Sort(names)
	return names
}

// datasetFiles returns the cleaned name of folder in the input folder and
// the names of the image files directly in it, sorted (ComfyUI takes
// os.listdir's order, which the file system decides).
func datasetFiles(c *node.Call, folder string) (string, []string, error) {
	dir, entries, err := datasetDir(c, folder)
	if err != nil {
		return "", nil, err
	}
	var names []string
	for _, n := range entries {
		if isDatasetImage(n) {
			names = append(names, n)
		}
	}
	return dir, names, nil
}

// datasetDir opens folder in the input folder and returns its cleaned name
// and the names in it, sorted. A folder that leaves the input folder fails
// as LoadImage's names do.
func datasetDir(c *node.Call, folder string) (string, []string, error) {
	folders, ok := foldersOf(c)
	if !ok || folders.Input == nil {
		return "", nil, errors.New("the server's folders are not set")
	}
	dir := "."
	if folder != "" {
		clean, err := files.CleanName(folder)
		if err != nil {
			return "", nil, node.Raise("ValueError", "Invalid file path: %s", pyRepr(folder))
		}
		dir = clean
	}
	d, err := folders.Input.Open(dir)
	if err == nil {
		var fi os.FileInfo
		if fi, err = d.Stat(); err == nil && !fi.IsDir() {
			d.Close()
			return "", nil, node.Raise("NotADirectoryError", "[Errno 20] Not a directory: %s", pyRepr(folder))
		}
	}
	switch {
	case files.IsOutside(err):
		return "", nil, node.Raise("ValueError", "Invalid file path: %s", pyRepr(folder))
	case errors.Is(err, fs.ErrNotExist):
		return "", nil, node.Raise("FileNotFoundError", "[Errno 2] No such file or directory: %s", pyRepr(folder))
	case err != nil:
		return "", nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return "", nil, err
	}
	slices.Sort(names)
	return dir, names, nil
}

// isDatasetImage reports whether the loaders take a file of this name.
func isDatasetImage(name string) bool {
	lower := strings.ToLower(name)
	return slices.ContainsFunc(datasetExtensions, func(ext string) bool { return strings.HasSuffix(lower, ext) })
}

// loadDataset is ComfyUI's load_and_process_images: each file's first
// frame as an RGB image of its own size, without EXIF orientation (Pillow's
// Image.open and convert("RGB"), which drop alpha).
func loadDataset(ctx context.Context, c *node.Call, dir string, names []string) ([]*tensor.Image, error) {
	if len(names) == 0 {
		return nil, node.Raise("ValueError", "No valid images found in input")
	}
	images := make([]*tensor.Image, 0, len(names))
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		img, err := loadFirstFrame(ctx, c, path.Join(dir, n))
		if err != nil {
			return nil, err
		}
		images = append(images, img)
	}
	return images, nil
}

// loadFirstFrame decodes the first frame of the input file name.
func loadFirstFrame(ctx context.Context, c *node.Call, name string) (*tensor.Image, error) {
	f, err := open(ctx, c, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d, err := imageio.Decode(f, imageio.Options{FirstFrame: true, NoOrientation: true})
	if errors.Is(err, imageio.ErrFormat) {
		return nil, node.Raise("UnidentifiedImageError", "cannot identify image file %s", pyRepr(name))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	img, _ := d.Tensors()
	if img == nil {
		return nil, node.Raise("RuntimeError", "%s: the file holds no frames", name)
	}
	return img, nil
}

var loadImageTextDataSetFromFolder = node.New(node.Info{ID: "LoadImageTextDataSetFromFolder",
	DisplayName: "Load Image-Text (from Folder)", Category: "image", Module: modDataset, Format: node.V3,
	Experimental: true,
	Description: "Load a dataset of pairs of images and text captions from a specified folder and return " +
		"them as a list. Supported formats: PNG, JPG, JPEG, WEBP.",
	SearchAliases: []string{"load folder", "load from folder", "load dataset", "load images", "import dataset"}},
	func(s *node.Schema) node.RunFunc {
		folder := s.Combo("folder").Dynamic(inputSubfolders).
			Tooltip("The folder to load images and text captions from.")
		outImages := node.Output(s, node.Image, "images").List().Tooltip("List of loaded images")
		outTexts := node.Output(s, node.String, "texts").List().Tooltip("List of text captions")
		return func(ctx context.Context, c *node.Call) error {
			names, err := imageTextFiles(c, folder.Get(c))
			if err != nil {
				return err
			}
			texts := make([]string, len(names))
			for i, n := range names {
				if texts[i], err = caption(ctx, c, n); err != nil {
					return err
				}
			}
			images, err := loadDataset(ctx, c, ".", names)
			if err != nil {
				return err
			}
			outImages.SetList(c, images)
			outTexts.SetList(c, texts)
			return nil
		}
	})

// maxDatasetItems bounds the list a kohya repeat count can make: a folder
// named "999999999_x" would otherwise hold the server's memory with one
// entry per repeat.
const maxDatasetItems = 1 << 20

// imageTextFiles lists what LoadImageTextDataSetFromFolder loads from
// folder, as names relative to the input folder: the image files in it and
// those of its subfolders, each subfolder's list repeated N times when its
// name starts with N and "_" (kohya-ss/sd-scripts' layout; only ASCII
// digits count here). Names are sorted within each folder (ComfyUI takes
// os.listdir's order).
func imageTextFiles(c *node.Call, folder string) ([]string, error) {
	dir, entries, err := datasetDir(c, folder)
	if err != nil {
		return nil, err
	}
	folders, _ := foldersOf(c)
	var names []string
	for _, e := range entries {
		item := path.Join(dir, e)
		if isDatasetImage(e) {
			names = append(names, item)
			continue
		}
		fi, err := folders.Input.Stat(item)
		if err != nil || !fi.IsDir() {
			continue // os.path.isdir is false for what it cannot stat, links out of the folder too
		}
		repeat := 1
		if head, _, _ := strings.Cut(e, "_"); head != "" && strings.Trim(head, "0123456789") == "" {
			if repeat, err = strconv.Atoi(head); err != nil || repeat > maxDatasetItems {
				repeat = maxDatasetItems + 1
			}
		}
		_, sub, err := datasetDir(c, item)
		if err != nil {
			return nil, err
		}
		var images []string
		for _, n := range sub {
			if isDatasetImage(n) {
				images = append(images, path.Join(item, n))
			}
		}
		if len(images) > 0 && repeat > (maxDatasetItems-len(names))/len(images) {
			return nil, node.Raise("ValueError", "%s: %d repeats of %d images are more than %d",
				pyRepr(e), repeat, len(images), maxDatasetItems)
		}
		for range repeat {
			names = append(names, images...)
		}
	}
	return names, nil
}

// caption is the text of an image's caption file: its name with the
// extension replaced by ".txt" (Python's str.replace, every occurrence),
// stripped; "" when there is none.
func caption(ctx context.Context, c *node.Call, image string) (string, error) {
	name := strings.ReplaceAll(image, path.Ext(image), ".txt")
	f, err := open(ctx, c, name)
	if node.ExceptionType(err) == "FileNotFoundError" {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return "", err
	}
	if !utf8.Valid(b) {
		return "", node.Raise("UnicodeDecodeError", "%s", utf8Error(b))
	}
	return strings.TrimFunc(string(b), pySpace), nil
}

// pySpace is Python's str.isspace: Unicode's spaces and also the
// separators U+001C to U+001F.
func pySpace(r rune) bool { return unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f }

var saveImageDataSetToFolder = node.New(node.Info{ID: "SaveImageDataSetToFolder",
	DisplayName: "Save Image (to Folder) (DEPRECATED)", Category: "image", Module: modDataset, Format: node.V3,
	Experimental: true, Deprecated: true, OutputNode: true, InputIsList: true,
	Description:   "Save a dataset of images to a specified folder. Supported formats: PNG.",
	SearchAliases: []string{"save folder", "save to folder", "save dataset", "save images", "export dataset"}},
	func(s *node.Schema) node.RunFunc {
		images := node.Socket(s, node.Image, "images").Tooltip("List of images to save.")
		folder, prefix, mode := datasetSaveInputs(s)
		return func(ctx context.Context, c *node.Call) error {
			_, err := saveDataset(ctx, c, images.List(c), first(folder.List(c)), first(prefix.List(c)),
				first(mode.List(c)) == "overwrite")
			return err
		}
	})

var saveImageTextDataSetToFolder = node.New(node.Info{ID: "SaveImageTextDataSetToFolder",
	DisplayName: "Save Image-Text (to Folder)", Category: "image", Module: modDataset, Format: node.V3,
	Experimental: true, OutputNode: true, InputIsList: true,
	Description: "Save a dataset of pairs of images and text captions to a specified folder. Images are saved " +
		"as PNG files and captions are saved as TXT files with the same filename_prefix.",
	SearchAliases: []string{"save folder", "save to folder", "save dataset", "save images", "save text",
		"export dataset"}},
	func(s *node.Schema) node.RunFunc {
		images := node.Socket(s, node.Image, "images").Tooltip("List of images to save.")
		texts := s.String("texts").Optional().ForceInput().Tooltip("List of text captions to save.")
		folder, prefix, mode := datasetSaveInputs(s)
		return func(ctx context.Context, c *node.Call) error {
			written, err := saveDataset(ctx, c, images.List(c), first(folder.List(c)), first(prefix.List(c)),
				first(mode.List(c)) == "overwrite")
			if err != nil {
				return err
			}
			root := c.Folders().Output
			captions := texts.List(c)
			for i, file := range written[:min(len(written), len(captions))] {
				// ComfyUI replaces ".png" in the file name it built.
				name := path.Join(path.Dir(file), strings.ReplaceAll(path.Base(file), ".png", ".txt"))
				err := files.WriteFile(root, name, func(w io.Writer) error {
					_, err := io.WriteString(w, captions[i])
					return err
				})
				if err != nil {
					return err
				}
			}
			return nil
		}
	})

// datasetSaveInputs declares the save nodes' folder_name, filename_prefix
// and mode inputs and their hidden inputs.
func datasetSaveInputs(s *node.Schema) (folder, prefix *node.StringInput, mode *node.ComboInput) {
	folder = s.String("folder_name").Default("dataset").
		Tooltip("Name of the folder to save images to (inside output directory).")
	prefix = s.String("filename_prefix").Default("image").Tooltip("Prefix for saved image filenames.").Advanced()
	mode = s.Combo("mode", "overwrite", "increment").Default("overwrite").
		Tooltip("Whether to overwrite existing files or increment filenames to avoid overwriting.")
	hidden(s) // ComfyUI gives every V3 output node these; the nodes write no metadata
	return folder, prefix, mode
}

// first is the first value of an input list, as the nodes' folder_name[0].
func first[T any](list []T) T {
	var zero T
	if len(list) == 0 {
		return zero
	}
	return list[0]
}

// saveDataset is ComfyUI's save_images_to_folder into folder of the output
// folder: image i as "<prefix>_<i:05>.png" (overwrite) or
// "<prefix>_<counter:05>_<i:05>.png" with get_save_image_path's counter.
// It returns the names written, relative to the output folder.
func saveDataset(ctx context.Context, c *node.Call, images []*tensor.Image, folder, prefix string,
	overwrite bool) ([]string, error) {
	root := c.Folders().Output
	if root == nil {
		return nil, errors.New("the server's output folder is not set")
	}
	dir, err := outputSubfolder(root, folder)
	if err != nil {
		return nil, err
	}
	if err := root.MkdirAll(dir, 0o777); err != nil {
		if files.IsOutside(err) {
			return nil, saveOutside(root, folder)
		}
		return nil, err
	}
	// name is image i's file, relative to the output folder.
	name := func(i int) (string, error) { return insideFolder(root, dir, fmt.Sprintf("%s_%05d.png", prefix, i)) }
	if !overwrite {
		// ComfyUI asks for the counter before each image, so it goes up
		// by one per file: pic_00001_00000.png, pic_00002_00001.png, …
		name = func(i int) (string, error) {
			sp, err := datasetSavePath(root, dir, prefix)
			if err != nil {
				return "", err
			}
			return insideFolder(root, sp.Subfolder, fmt.Sprintf("%s_%05d_%05d.png", sp.Filename, sp.Counter, i))
		}
	}
	var written []string
	for i, img := range images {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		pic, err := datasetImage(img)
		if err != nil {
			return nil, err
		}
		file, err := name(i)
		if err != nil {
			return nil, err
		}
		// Pillow's save does not create the folders of a prefix "a/x".
		if _, err := root.Stat(path.Dir(file)); errors.Is(err, fs.ErrNotExist) {
			return nil, node.Raise("FileNotFoundError", "[Errno 2] No such file or directory: %s", pyRepr(file))
		}
		err = files.WriteFile(root, file, func(w io.Writer) error {
			return imageio.EncodePNG(w, pic, imageio.LevelDefault, nil)
		})
		switch {
		case files.IsOutside(err):
			return nil, saveOutside(root, path.Dir(file))
		case errors.Is(err, fs.ErrNotExist):
			return nil, node.Raise("FileNotFoundError", "[Errno 2] No such file or directory: %s", pyRepr(file))
		case err != nil:
			return nil, err
		}
		written = append(written, file)
	}
	return written, nil
}

// outputSubfolder cleans a folder name taken from the workflow: "" is the
// output folder itself ("."); one that leaves it fails as
// get_save_image_path does, one files.CleanName refuses with ValueError.
func outputSubfolder(root *os.Root, folder string) (string, error) {
	if folder == "" || folder == "." {
		return ".", nil
	}
	if lexical, out := escapes(folder); out {
		return "", saveOutside(root, lexical)
	}
	return insideFolder(root, ".", folder)
}

// escapes reports whether name, cleaned as Python's normpath would
// (lexical), leads out of the folder it is joined to.
func escapes(name string) (lexical string, out bool) {
	lexical = path.Clean(strings.ReplaceAll(name, `\`, "/"))
	return lexical, path.IsAbs(lexical) || lexical == ".." || strings.HasPrefix(lexical, "../")
}

// insideFolder checks name, taken from the workflow, and joins it to dir:
// a name that leads out of dir fails as get_save_image_path does, one that
// files.CleanName refuses (a ".." element, a control character) with
// ValueError.
func insideFolder(root *os.Root, dir, name string) (string, error) {
	if lexical, out := escapes(name); out {
		return "", saveOutside(root, path.Join(dir, path.Dir(lexical)))
	}
	clean, err := files.CleanName(name)
	if err != nil {
		return "", node.Raise("ValueError", "Invalid file path: %s", pyRepr(name))
	}
	return path.Join(dir, clean), nil
}

// datasetSavePath is get_save_image_path(prefix, output_dir) for the
// increment mode: where the files of prefix go inside dir and their
// counter (%width% and %height% become 0, since the node passes no size).
func datasetSavePath(root *os.Root, dir, prefix string) (files.SavePath, error) {
	full, err := insideFolder(root, dir, prefix)
	if err != nil {
		return files.SavePath{}, err
	}
	sp, err := files.SaveImagePath(root, full, 0, 0, time.Now())
	switch {
	case files.IsOutside(err) || errors.Is(err, files.ErrOutside):
		return sp, saveOutside(root, path.Dir(full))
	case errors.Is(err, files.ErrInvalidName):
		return sp, node.Raise("ValueError", "Invalid file path: %s", pyRepr(prefix))
	}
	return sp, err
}

// saveOutside is get_save_image_path's error for a folder outside the
// output folder, raised as the Exception it is.
func saveOutside(root *os.Root, folder string) error {
	full := filepath.Join(root.Name(), filepath.FromSlash(folder))
	if path.IsAbs(folder) { // os.path.join keeps an absolute name as it is
		full = filepath.FromSlash(folder)
	}
	return node.Raise("Exception", "**** ERROR: Saving image outside the output folder is not allowed."+
		"\n full_output_folder: %s\n         output_dir: %s", full, root.Name())
}

// datasetImage converts one list item as save_images_to_folder does: a
// batch of one is its image, and an image whose first dimension looks like
// channels (1, 3 or 4, the others above 4) is read as [C,H,W]; then
// Pillow's fromarray takes it or fails, as on any batch of more than one.
func datasetImage(img *tensor.Image) (image.Image, error) {
	if img == nil {
		return nil, errors.New("images: no value")
	}
	if img.B != 1 {
		return nil, node.Raise("TypeError", "Cannot handle this data type: (1, 1, %d, %d), |u1", img.W, img.C)
	}
	if (img.H == 1 || img.H == 3 || img.H == 4) && img.W > 4 && img.C > 4 {
		chw := tensor.NewImage(1, img.W, img.C, img.H)
		for c := range img.H {
			for y := range img.W {
				for x := range img.C {
					chw.Pix[(y*img.C+x)*img.H+c] = img.Pix[(c*img.W+y)*img.C+x]
				}
			}
		}
		img = chw
	}
	return image8(img, 0)
}
