#!/bin/sh
# Copy the few front-end files the app serves from node_modules/ into static/vendor/.
# usage: npm ci && sh scripts/vendor.sh   (running the app needs no node: the copies are committed)
# Versions come from package.json; bumping one means re-running this and updating the
# paths in app/web/render/templating.py (VENDOR).
# plotly.js is its cartesian bundle (scatter, bar, heatmap, contour and the rest of the 2-D traces: all the
# figures use; 1.5 MB where the full plotly.min.js inside the plotly package is 4.8 MB), served by
# app/web/pages/assets.py (gzipped once); tests/app/test_plotly_bundle.py checks it draws every trace type the
# app writes and is the plotly.js of the installed plotly package.
set -eu
cd "$(dirname "$0")/.."
nm=node_modules
[ -d "$nm" ] || { echo "vendor.sh: no node_modules/; run 'npm ci' first" >&2; exit 1; }

version() { node -p "require('./$nm/$1/package.json').version"; }
htmx=$(version htmx.org)
katex=$(version katex)
swagger=$(version swagger-ui-dist)
plotly=$(version plotly.js-cartesian-dist-min)

out=static/vendor
rm -rf "$out/htmx-"* "$out/katex-"* "$out/swagger-ui-"* "$out/plotly-cartesian-"*
mkdir -p "$out/htmx-$htmx" "$out/katex-$katex/fonts" "$out/swagger-ui-$swagger" "$out/plotly-cartesian-$plotly"

cp "$nm/htmx.org/dist/htmx.min.js" "$nm/htmx.org/LICENSE" "$out/htmx-$htmx/"
cp "$nm/katex/dist/katex.min.js" "$nm/katex/dist/katex.min.css" "$nm/katex/LICENSE" "$out/katex-$katex/"
# katex.min.css lists woff2 first in every @font-face, so browsers never ask for woff/ttf.
cp "$nm"/katex/dist/fonts/*.woff2 "$out/katex-$katex/fonts/"

cp "$nm/plotly.js-cartesian-dist-min/plotly-cartesian.min.js" "$nm/plotly.js-cartesian-dist-min/LICENSE" \
  "$out/plotly-cartesian-$plotly/"
# /docs: Swagger UI served locally (the app works offline, and its CSP allows no CDN and no inline script)
cp "$nm/swagger-ui-dist/swagger-ui-bundle.js" "$nm/swagger-ui-dist/swagger-ui.css" \
  "$nm/swagger-ui-dist/LICENSE" "$nm/swagger-ui-dist/NOTICE" "$out/swagger-ui-$swagger/"
# drop sourceMappingURL comments: the maps are not shipped (no 404s in devtools)
for f in "$out/swagger-ui-$swagger/swagger-ui-bundle.js" "$out/swagger-ui-$swagger/swagger-ui.css"; do
  sed -e '/^\/[*\/]# sourceMappingURL=/d' "$f" > "$f.tmp" && mv "$f.tmp" "$f"
done

echo "vendored htmx $htmx, katex $katex, swagger-ui $swagger, plotly.js (cartesian) $plotly into $out/"
