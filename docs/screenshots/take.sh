#!/usr/bin/env bash
# Reproduce the Prefect UI screenshots used in the README:
#   docs/prefect-ui-run.png       the finished load-csv-folder run (state, run graph, logs)
#   docs/prefect-ui-artifact.png  its table artifact `load-certificates` (one row per file)
#
# What it does:
#   1. starts a throwaway Prefect server (own PREFECT_HOME, port 4299) from .venv;
#   2. writes ~10 MB of sample EPC data and loads it with `data-processor flow` against that server;
#   3. looks up the flow run and the artifact through the REST API;
#   4. drives headless Debian Chromium with Playwright (npm `playwright-core`, installed outside the repo)
#      to take the two screenshots;
#   5. stops the server and removes every temporary file.
#
# Needs: the project's virtualenv at .venv, Debian's `chromium` (/usr/bin/chromium; `apt-get install chromium`),
# node + npm, and curl. Run from anywhere:  bash docs/screenshots/take.sh
# Environment knobs:
#   PORT        server port (default 4299)
#   CHROMIUM    browser binary (default /usr/bin/chromium)
#   PW_DIR      where playwright-core is installed / reused (default /tmp/data-processor-playwright;
#               never inside the repository, so no node_modules ends up in git)
#   KEEP_TMP=1  keep the temp dir (server log, data, database) for debugging
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$REPO/.venv"
PORT="${PORT:-4299}"
HOST=127.0.0.1
API="http://$HOST:$PORT/api"
UI="http://$HOST:$PORT"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
PW_DIR="${PW_DIR:-/tmp/data-processor-playwright}"
OUT_RUN="$REPO/docs/prefect-ui-run.png"
OUT_ARTIFACT="$REPO/docs/prefect-ui-artifact.png"

for tool in curl node npm "$CHROMIUM" "$VENV/bin/prefect" "$VENV/bin/data-processor"; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 1; }
done

START=$(date +%s)
TMP="$(mktemp -d /tmp/dp-screens.XXXXXX)"
SERVER_PID=""

# Always stop the server we started (by its pid, never by name) and remove the temp dir.
cleanup() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 30); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.5; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ "${KEEP_TMP:-0}" == 1 ]]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

# A fresh Prefect home: the server's SQLite database and the client's profile both live here,
# so nothing from ~/.prefect (or an earlier run) leaks into the screenshots.
export PREFECT_HOME="$TMP/prefect-home"
export PREFECT_SERVER_ANALYTICS_ENABLED=false
export PREFECT_UI_API_URL="$API"
mkdir -p "$PREFECT_HOME"

if curl -fsS "$API/health" >/dev/null 2>&1; then
    echo "something already answers on port $PORT; stop it or set PORT" >&2; exit 1
fi

# 1. Prefect server in the background; `exec` so $! is the server process itself.
echo "starting Prefect server on $UI (log: $TMP/server.log)"
( cd "$TMP" && exec "$VENV/bin/prefect" server start --host "$HOST" --port "$PORT" ) >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
for i in $(seq 1 180); do
    curl -fsS "$API/health" >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "server exited:" >&2; tail -40 "$TMP/server.log" >&2; exit 1; }
    [[ $i == 180 ]] && { echo "server did not answer $API/health in 180 s" >&2; tail -40 "$TMP/server.log" >&2; exit 1; }
    sleep 1
done
echo "server up after $(( $(date +%s) - START )) s"

# 2. Sample data and the real parent flow against that server.
"$VENV/bin/python" -m samples --mb 10 "$TMP/epc"
echo "running the flow"
set +e
( cd "$REPO" && PREFECT_API_URL="$API" "$VENV/bin/data-processor" flow \
    --src "$TMP/epc" --glob '**/certificates.csv' --dest "sqlite:///$TMP/epc.db" \
    --table certificates --null-values 'NO DATA!' --workers 2 ) 2>&1 | tee "$TMP/flow.log"
FLOW_RC=${PIPESTATUS[0]}
set -e
if [[ $FLOW_RC != 0 ]]; then
    echo "data-processor flow failed (exit $FLOW_RC); no screenshots taken" >&2; exit "$FLOW_RC"
fi

# 3. The newest load-csv-folder run, and the table artifact it left.
FLOW_RUN_ID=$(curl -fsS -X POST "$API/flow_runs/filter" -H 'Content-Type: application/json' \
    -d '{"flows": {"name": {"any_": ["load-csv-folder"]}}, "sort": "EXPECTED_START_TIME_DESC", "limit": 1}' \
    | "$VENV/bin/python" -c 'import json,sys; runs=json.load(sys.stdin); print(runs[0]["id"] if runs else "")')
[[ -n "$FLOW_RUN_ID" ]] || { echo "no load-csv-folder flow run found" >&2; exit 1; }
FLOW_RUN_STATE=$(curl -fsS "$API/flow_runs/$FLOW_RUN_ID" | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["state_type"])')
echo "flow run $FLOW_RUN_ID: $FLOW_RUN_STATE"
[[ "$FLOW_RUN_STATE" == COMPLETED ]] || { echo "run is $FLOW_RUN_STATE, not COMPLETED" >&2; exit 1; }
ARTIFACT_ID=$(curl -fsS -X POST "$API/artifacts/filter" -H 'Content-Type: application/json' \
    -d "{\"artifacts\": {\"key\": {\"any_\": [\"load-certificates\"]}, \"flow_run_id\": {\"any_\": [\"$FLOW_RUN_ID\"]}}, \"limit\": 1}" \
    | "$VENV/bin/python" -c 'import json,sys; a=json.load(sys.stdin); print(a[0]["id"] if a else "")')
[[ -n "$ARTIFACT_ID" ]] || { echo "no load-certificates artifact for run $FLOW_RUN_ID" >&2; exit 1; }
echo "artifact $ARTIFACT_ID"

# 4. Playwright driver, installed outside the repository and reused across runs.
if [[ ! -d "$PW_DIR/node_modules/playwright-core" ]]; then
    mkdir -p "$PW_DIR"
    ( cd "$PW_DIR" && npm init -y >/dev/null && npm install --no-audit --no-fund --loglevel=error playwright-core >/dev/null )
fi
cat >"$TMP/shoot.js" <<'JS'
// Two screenshots of the Prefect UI in headless Debian Chromium. Args: uiBase runId artifactId outRun outArtifact
const { chromium } = require(process.env.PW_DIR + '/node_modules/playwright-core');
const [ui, runId, artifactId, outRun, outArtifact] = process.argv.slice(2);

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    headless: true,
    // Flags this machine needs: no sandbox as root, no GPU, and no background calls to Google's
    // hosts (the network is closed). Playwright gives each launch a fresh --user-data-dir.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });  // the UI's own (dark) theme
  page.setDefaultTimeout(60000);

  // (a) The flow run page: the state badge must say Completed, the run graph must have drawn,
  //     and the Logs tab (the default) must show log lines, not "loading".
  await page.goto(`${ui}/runs/flow-run/${runId}`, { waitUntil: 'networkidle' });
  await page.getByText('Completed', { exact: true }).first().waitFor();
  await page.locator('canvas').first().waitFor();                       // the run graph (drawn with pixi.js)
  await page.getByText('Beginning flow run', { exact: false }).first().waitFor();  // first log line
  await page.getByText('loaded, 0 rejected', { exact: false }).first().waitFor();  // a file's log line
  console.log('run page: state Completed, graph canvases', await page.locator('canvas').count(),
              ', graph container', await page.locator('.flow-run-graph').count());
  await page.waitForLoadState('networkidle');
  await page.waitForTimeout(2000);  // let the graph finish its layout animation
  // "Recenter graph" re-fits the graph to the finished run (a safeguard: on a 6 s run the first layout is
  // already the same; the empty right part is room for the longest task label, not missing data).
  await page.getByTitle('Recenter graph (c)').click().catch(() => console.log('no Recenter button'));
  await page.mouse.move(0, 0);       // no hover tooltip in the picture
  await page.waitForTimeout(2000);
  await page.screenshot({ path: outRun });

  // (b) The artifact page: the table of files with their rows and MB/s.
  await page.goto(`${ui}/artifacts/artifact/${artifactId}`, { waitUntil: 'networkidle' });
  await page.locator('table tbody tr').first().waitFor();
  await page.getByText('certificates.csv', { exact: false }).first().waitFor();  // a file row, not a skeleton
  console.log('artifact page: table rows', await page.locator('table tbody tr').count());
  await page.waitForLoadState('networkidle');
  await page.waitForTimeout(1000);
  await page.screenshot({ path: outArtifact });

  await browser.close();
})().catch((e) => { console.error(e); process.exit(1); });
JS
echo "taking screenshots"
PW_DIR="$PW_DIR" CHROMIUM="$CHROMIUM" node "$TMP/shoot.js" "$UI" "$FLOW_RUN_ID" "$ARTIFACT_ID" "$OUT_RUN" "$OUT_ARTIFACT"
ls -l "$OUT_RUN" "$OUT_ARTIFACT"
echo "done in $(( $(date +%s) - START )) s"
