#!/bin/bash
# Dependencies point one way: the coder, the container and the hashes know
# nothing of torch or of the modules above them; the model knows nothing of
# files or the container. Fails naming the offending include.
set -u
root="${1:?usage: layering.sh SOURCE_DIR}"
status=0
forbid() {  # forbid DIR REGEX WHY [ALLOWED]: ALLOWED names headers that pass
  local hits
  hits=$(grep -rnE "^#include [<\"]($2)" "$root/$1" || true)
  if [ -n "${4:-}" ] && [ -n "$hits" ]; then
    hits=$(grep -vE ":#include [<\"]($4)[>\"]" <<<"$hits" || true)
  fi
  if [ -n "$hits" ]; then
    echo "layering: $1 must not include $3:"
    echo "$hits"
    status=1
  fi
}
forbid src/hash 'torch|ATen|c10|(coder|format|tokenize|model|engine|train|cli)/' "torch or other lmzip modules"
forbid src/coder 'torch|ATen|c10|(format|tokenize|model|engine|train|cli)/' "torch or modules above it"
forbid src/format 'torch|ATen|c10|(coder|tokenize|model|engine|train|cli)/' "torch or modules above it"
forbid src/tokenize 'torch|ATen|c10|(coder|format|model|engine|train|cli)/' "torch or modules above it"
forbid src/model '(format|adapt|engine|train|cli)/' "the container, per-frame models, engine, trainer or CLI"
forbid src/media 'torch|ATen|c10|(format|tokenize|model|adapt|engine|train|cli)/' "torch or modules other than the coder"
forbid src/adapt 'torch|ATen|c10|(engine|train|cli)/' "torch, the engine, trainer or CLI"
forbid src/engine '(train|cli)/' "the trainer or CLI"
# The CLI parses flags and handles files; it reaches the library through
# lmzip/lmzip.h and, beyond it, only through these headers:
#   train/trainer.h        TrainOptions, which `lmzip train` fills (main.cpp, train_module.h)
#   train/plugin.h         the entry point of the training module it loads (train_module.cpp)
#   model/derive_window.h  `lmzip derive` (derive_model.cpp)
forbid src/cli '(hash|coder|format|tokenize|model|engine|train|adapt)/' \
  "modules other than through lmzip/lmzip.h and its named entry points" \
  'train/trainer\.h|train/plugin\.h|model/derive_window\.h'
exit $status
