#!/bin/bash
# audit, apply and diff on the 300-set account, each next to python's json.load of the same file.
B=${SGSIM:-target/release/sgsim}
F=${DIR:-/tmp/est}/s300/snapshot.json
py() { /usr/bin/time -f "python-json-load %e s %M KB" python3 -c 'import json,sys; json.load(open(sys.argv[1]))' $F; }
py
/usr/bin/time -f "audit-json %e s %M KB" $B audit $F --json > ${DIR:-/tmp/est}/audit.json
ls -l ${DIR:-/tmp/est}/audit.json | awk '{print "audit report bytes", $5}'
py
REQ='Action=AuthorizeSecurityGroup&RegionId=cn-hangzhou&SecurityGroupId=sg-app-00500&Permissions.1.IpProtocol=tcp&Permissions.1.PortRange=8443/8443&Permissions.1.SourceCidrIp=198.51.100.0/24&Permissions.1.Priority=1'
/usr/bin/time -f "apply %e s %M KB" $B apply $F "$REQ" --output ${DIR:-/tmp/est}/s300-plus.json --seed 1 --now 1760000000
py
/usr/bin/time -f "diff %e s %M KB" $B diff $F ${DIR:-/tmp/est}/s300-plus.json --json > ${DIR:-/tmp/est}/diff.json
py
python3 -c "
import json; d=json.load(open('${DIR:-/tmp/est}/diff.json')); t=[x for x in d['targets'] if x['changes']]; print('diff: targets with changes', len(t), 'changes', sum(len(x['changes']) for x in t))"
