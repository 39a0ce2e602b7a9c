#!/bin/bash
# Issue 15's questions on the generated accounts, alternating with python's json.load.
B=${SGSIM:-target/release/sgsim}
for shape in s300 own; do
  F=${DIR:-/tmp/est}/$shape/snapshot.json
  for i in 1 2 3; do
    /usr/bin/time -f "$shape python-json-load %e s %M KB" python3 -c 'import json,sys; json.load(open(sys.argv[1]))' $F
    /usr/bin/time -f "$shape check %e s %M KB" $B check $F --nic eni-000123 --direction ingress --protocol tcp --src 10.0.16.5 --sport 40000 --dport 22 >/dev/null
  done
done
F=${DIR:-/tmp/est}/own/snapshot.json
/usr/bin/time -f "own python-json-load %e s %M KB" python3 -c 'import json,sys; json.load(open(sys.argv[1]))' $F
/usr/bin/time -f "own eval-500k %e s %M KB" $B eval $F ${DIR:-/tmp/est}/own/flows.csv --output ${DIR:-/tmp/est}/own/out.csv
/usr/bin/time -f "own python-json-load %e s %M KB" python3 -c 'import json,sys; json.load(open(sys.argv[1]))' $F
