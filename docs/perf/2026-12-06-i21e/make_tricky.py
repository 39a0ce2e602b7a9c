"""Writes the tricky flows files that sgsim eval's output was compared on, before and after
issue 21 (identical-outputs.txt): rows of examples/flows.csv with other spellings, quoted
fields (with "" and line ends inside), CRLF line ends, and bad rows of every kind.

    python3 docs/perf/2026-12-06-i21e/make_tricky.py examples/flows.csv OUTDIR
"""
import os
import random
import sys

random.seed(21)
base = open(sys.argv[1]).read().splitlines()[1:]
out_dir = sys.argv[2]
os.makedirs(out_dir, exist_ok=True)
HEADER = b'nic_id,direction,protocol,src_ip,src_port,dst_ip,dst_port\n'


def mutate(row, quotes):
    f = row.split(',')
    r = random.randrange(40)
    if r == 0: f[1] = f[1].upper()
    elif r == 1: f[2] = f[2].upper()
    elif r == 2: f[2] = {'tcp': '6', 'udp': '17', 'icmp': '1'}.get(f[2], f[2])
    elif r == 3 and f[6]: f[6] = '00' + f[6]
    elif r == 4 and f[4]: f[4] = '+' + f[4]
    elif r == 5: f[3] = '10.0.0.256'
    elif r == 6: f.pop()
    elif r == 7: f.append('x')
    elif r == 8: return ''
    elif r == 9: f[1] = 'sideways'
    elif r == 10: f[6] = ''
    elif r == 11: f[6] = '70000'
    elif r == 12: return None  # a row that is not UTF-8
    elif r == 13: f[0] = 'eni-\u00e9'
    elif r == 14: f[3] = ' ' + f[3]
    elif r == 15: f[3] = '01.2.3.4'
    elif quotes and r == 16: f[0] = '"' + f[0] + '"'
    elif quotes and r == 17: f[3] = '"' + f[3] + '"'
    elif quotes and r == 18: f[0] = '"' + f[0] + '""x"'
    elif quotes and r == 19: f[0] = '"' + f[0] + '\nsecond line"'
    elif quotes and r == 20: f[2] = '"tcp,udp"'
    elif quotes and r == 21: f[0] = 'a"b'
    return ','.join(f)


def write(name, parts):
    with open(os.path.join(out_dir, name), 'wb') as out:
        out.write(HEADER)
        for n, quotes in parts:
            for _ in range(n):
                row = mutate(random.choice(base), quotes)
                data = b'\xffeni-web1,ingress,tcp,1.2.3.4,1,10.0.1.10,443' if row is None else row.encode()
                out.write(data + (b'\r\n' if random.random() < 0.3 else b'\n'))


write('small-quoted.csv', [(3000, True)])
write('small-plain.csv', [(3000, False)])
# Plain blocks (the fast path), a block with quotes, then plain again, across 4 MiB blocks.
write('big-mixed.csv', [(120000, False), (60000, True), (150000, False), (1, True), (100000, False)])
open(os.path.join(out_dir, 'bom-noeol.csv'), 'wb').write(
    '\ufeff"nic_id","direction",protocol,src_ip,src_port,dst_ip,dst_port\r\n'.encode()
    + b'eni-web1,ingress,tcp,203.0.113.9,40000,10.0.1.10,443\r\neni-web1,ingress,icmp,10.9.9.9,,10.0.1.10,')
open(os.path.join(out_dir, 'unclosed.csv'), 'wb').write(
    HEADER + b'eni-web1,ingress,tcp,203.0.113.9,40000,10.0.1.10,443\n"eni-web1,ingress,tcp,203.0.113.9,40000,10.0.1.10,443\n'
    b'eni-web1,ingress,tcp,203.0.113.9,40000,10.0.1.10,443\n')
open(os.path.join(out_dir, 'cr-only-end.csv'), 'wb').write(
    HEADER + b'eni-web1,ingress,tcp,203.0.113.9,40000,10.0.1.10,443\r')
