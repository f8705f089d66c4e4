// Package files is ComfyUI's folder model (folder_paths.py, as of v0.27)
// built on os.Root: the working folders, the model folders and
// extra_model_paths.yaml, the names that requests and nodes give to files,
// and ComfyUI's naming rules for uploads and saves.
//
// # Working folders
//
// Open applies ComfyUI's directory flags (Config), creates the input,
// output, temp and user folders, empties temp and opens each folder as an
// *os.Root. Every file a request or a node names is opened through a root,
// so it cannot be outside its folder, not even through a symbolic link.
// A folder may itself be a link (the root is opened through it), but links
// inside it that lead out, and all absolute links inside it, are refused:
// to keep outputs on another disk, point --output-directory there rather
// than linking a subfolder.
//
// # Names from requests and nodes
//
// CleanName checks a name before any file is touched; Resolve and
// ResolveAnnotated turn (type, subfolder, filename) and "x.png [output]"
// into a Location inside a root. Suggested HTTP statuses:
//
//	ErrInvalidName, ErrUnknownType   400
//	IsOutside(err)                   403
//	fs.ErrNotExist, ErrUnknownFolder 404
//
// TraversalCorpus gives other packages' tests the names every route must
// refuse.
//
// # Model folders
//
// Models holds ComfyUI's folder names, extension sets and directories
// (several per folder), extended by extra_model_paths.yaml files, and
// lists a folder as get_filename_list does, cached until a directory
// changes.
//
// # Naming rules
//
// Upload.Store is POST /upload/image's "name (1).png" rule, SaveImagePath
// is SaveImage's "prefix_00001_.png" counter, FormatPrefix expands the
// web frontend's %date:…% and %Node.widget% in a save prefix, and WriteFile
// writes a file atomically inside a root.
//
// # Differences from ComfyUI
//
// Deliberate, each for safety or clarity; the doc comment of each function
// gives the detail:
//   - Names are refused rather than normalised: any ".." element (ComfyUI
//     clamps it in model names and allows "a/../b" in uploads), backslashes,
//     control characters, invalid UTF-8 and over-long names.
//   - Symbolic links inside a working folder that lead out of it, or are
//     absolute, are refused (os.Root); ComfyUI checks paths before
//     resolving links. Model folders, configured by the operator, still
//     follow links.
//   - Subfolders in model listings use '/' on every OS.
//   - A temp folder that would contain another folder is refused at start
//     instead of being emptied with it.
//   - "x.png[output]" (no space) is "x.png", not ComfyUI's "x.pn".
//   - In save prefixes '\' separates folders, as on Windows.
//   - The server expands the frontend's save prefix replacements
//     (FormatPrefix), so that API clients get them too; ComfyUI v0.27
//     leaves that to the frontend.
package files
