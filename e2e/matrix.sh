#!/bin/bash
# e2e/matrix.sh - `npm run e2e -- ARGS`: without --all, one round trip (e2e/run.sh ARGS).
# With --all: kernels x environments x guest RAM x nr_cpus, and for each the smallest
# crashkernel (32 MiB steps from 96 MiB) at which each tool completes in the capture
# kernel; each boot's result goes to $E2E_MATRIX (default $E2E_DIR/matrix.jsonl), the
# table from e2e/table.py.
#
# usage: e2e/matrix.sh --all [--kernels "6.1 6.12"] [--envs "minimal debian"]
#                      [--rams "1G 3G"] [--cpus "1 2"] [--from 96] [--to 320]
# A configuration stops at the first size where both tools complete (exit 0); the
# round trip's checks at that size are its verdict. Exit 0 if every verdict passed.
{ # one block: bash reads it whole, so editing this file cannot upset a running copy
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
case " $* " in *" --all "*) ;; *) exec "$HERE/run.sh" "$@" ;; esac
KERNELS="6.1 6.12" ENVS="minimal debian" RAMS="1G 3G" CPUS="1 2" FROM=96 TO=320
while [ $# -gt 0 ]; do
	case "$1" in
	--all) shift; continue ;;
	--kernels) KERNELS=$2 ;; --envs) ENVS=$2 ;; --rams) RAMS=$2 ;; --cpus) CPUS=$2 ;;
	--from) FROM=$2 ;; --to) TO=$2 ;;
	*) echo "e2e: unknown option $1" >&2; exit 2 ;;
	esac
	shift 2
done
export E2E_DIR=${E2E_DIR:-/work/artifacts/e2e}
E2E_MATRIX=${E2E_MATRIX:-$E2E_DIR/matrix.jsonl}
mkdir -p "$E2E_DIR/pack"
if [ -z "${E2E_TGZ:-}" ]; then
	rm -f "$E2E_DIR"/pack/cyclodump-*.tgz
	(cd "$REPO" && npm pack --silent --pack-destination "$E2E_DIR/pack" > /dev/null) || exit 3
	E2E_TGZ=$(ls "$E2E_DIR"/pack/cyclodump-*.tgz)
fi
export E2E_TGZ
FAILED=0
for k in $KERNELS; do for e in $ENVS; do for r in $RAMS; do for c in $CPUS; do
	ck=$FROM
	while [ "$ck" -le "$TO" ]; do
		out=$E2E_DIR/runs/matrix-$k-$e-$r-cpu$c-ck$ck
		"$HERE/run.sh" --kernel "$k" --env "$e" --ram "$r" --nr-cpus "$c" --crashkernel "${ck}M" --out "$out"
		rc=$?
		if [ -s "$out/result.json" ]; then
			/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); r["ck_mib"]=int(sys.argv[2]); print(json.dumps(r))' \
				"$out/result.json" "$ck" >> "$E2E_MATRIX"
		else
			echo "{\"run\": \"$(basename "$out")\", \"info\": [\"$k\", \"-\", \"$e\", \"ram=$r\", \"crashkernel=$ck\", \"nr_cpus=$c\"], \"ck_mib\": $ck, \"ok\": false, \"guest_failed\": true, \"tools\": {}}" >> "$E2E_MATRIX"
		fi
		both=$(/usr/bin/python3 - "$out/result.json" <<'EOF'
import json, sys
try: t = json.load(open(sys.argv[1]))["tools"]
except Exception: print(0); sys.exit()
ok = lambda p: all(t.get(p + s, {}).get("exit") == 0 for s in ("-F", "-dmesg", "-l"))
print(1 if ok("mdf") and ok("cyc") else 0)
EOF
)
		if [ "$both" = 1 ]; then [ $rc = 0 ] || FAILED=1; break; fi
		ck=$((ck + 32))
	done
done; done; done; done
/usr/bin/python3 "$HERE/table.py" "$E2E_MATRIX"
exit $FAILED
}
