// Loaded by the ComfyUI frontend from /extensions/hello/hello.js.
import { app } from "../../scripts/app.js";

app.registerExtension({ name: "gocomfy.hello" });
