"""From a decoded image to the model's 28x28 input: the scan contract (`common`), the normaliser every engine
calls (`normalise`), and the segmenter it hands pages and numbers to (`segment`, built on `layout` and
`digits`). Import the module you need; this package itself loads nothing."""
