//! The reachability report as text, as an SVG graph, and as one self-contained HTML page (the
//! graph, a matrix, and details on click; no network access). Hand-written markup: the page is
//! a few hundred lines and a templating or plotting crate would add more than it saves.

use super::reach::{ReachReport, INTERNET};
use std::collections::BTreeMap;
use std::fmt::Write;

/// `web (3 NICs)`, or `internet`.
fn end_label(report: &ReachReport, id: &str) -> String {
    match report.class(id) {
        Some(class) if class.nics.len() == 1 => format!("{id} (1 NIC)"),
        Some(class) => format!("{id} ({} NICs)", class.nics.len()),
        None => id.to_string(),
    }
}

/// One line per class pair and family, then the classes and their NICs.
pub fn text(report: &ReachReport) -> String {
    let nics: usize = report.classes.iter().map(|c| c.nics.len()).sum();
    let mut out = format!(
        "{nics} NIC(s) in {} class(es); `internet` is every public address\n",
        report.classes.len()
    );
    if report.edges.is_empty() {
        out += "no flow is allowed between the selected ends\n";
    }
    for edge in &report.edges {
        let family = if edge.family == "IPv4" { "" } else { " [IPv6]" };
        let _ = writeln!(
            out,
            "{} -> {}{family}: {}",
            end_label(report, &edge.from),
            end_label(report, &edge.to),
            edge.summary
        );
    }
    out += "classes:\n";
    for class in &report.classes {
        let _ = writeln!(
            out,
            "  {}: {}",
            end_label(report, &class.id),
            class.nics.join(", ")
        );
    }
    out
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

/// Where each end is drawn: classes and the internet (last) around a circle.
struct Layout {
    size: f64,
    positions: BTreeMap<String, (f64, f64)>,
}

const NODE_RADIUS: f64 = 22.0;

fn layout(report: &ReachReport) -> Layout {
    let ids: Vec<&str> = report
        .classes
        .iter()
        .map(|c| c.id.as_str())
        .chain([INTERNET])
        .collect();
    let count = ids.len() as f64;
    // About 110 px of circumference per end keeps labels apart.
    let radius = (count * 110.0 / std::f64::consts::TAU).max(220.0);
    let margin = 150.0;
    let size = 2.0 * (radius + margin);
    let center = size / 2.0;
    let positions = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let angle = std::f64::consts::TAU * i as f64 / count - std::f64::consts::FRAC_PI_2;
            (
                id.to_string(),
                (center + radius * angle.cos(), center + radius * angle.sin()),
            )
        })
        .collect();
    Layout { size, positions }
}

/// The graph: a node per class and the internet, an arrow per ordered pair with edges (both
/// families on one arrow), labelled with the services. Nodes carry `data-class` (the class id,
/// or `internet`) and arrows `data-edges` (indexes into the report's edges), for the
/// HTML page.
pub fn svg(report: &ReachReport) -> String {
    let layout = layout(report);
    let size = layout.size;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{size:.0}" height="{size:.0}" viewBox="0 0 {size:.0} {size:.0}" font-family="sans-serif" font-size="11">"##
    );
    out += r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>
"##;
    let _ = writeln!(
        out,
        r##"<rect width="{size:.0}" height="{size:.0}" fill="#fff"/>"##
    );

    // Ordered pairs with their edges, both families together.
    let mut pairs: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for (i, edge) in report.edges.iter().enumerate() {
        pairs
            .entry((edge.from.clone(), edge.to.clone()))
            .or_default()
            .push(i);
    }
    out += "<g class=\"edges\">\n";
    for ((from, to), indexes) in &pairs {
        let (Some(&(x1, y1)), Some(&(x2, y2))) =
            (layout.positions.get(from), layout.positions.get(to))
        else {
            continue;
        };
        let label: Vec<String> = indexes
            .iter()
            .map(|&i| {
                let e = &report.edges[i];
                if e.family == "IPv4" {
                    e.summary.clone()
                } else {
                    format!("IPv6: {}", e.summary)
                }
            })
            .collect();
        let full = format!("{from} -> {to}: {}", label.join("; "));
        let short = shorten(&label.join("; "), 34);
        let ids = indexes
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let (path, lx, ly) = if from == to {
            // A loop above the node: traffic between two members of the class.
            let (x, y) = (x1, y1 - NODE_RADIUS);
            (
                format!(
                    "M{:.1},{:.1} C{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}",
                    x - 8.0,
                    y,
                    x - 40.0,
                    y - 55.0,
                    x + 40.0,
                    y - 55.0,
                    x + 8.0,
                    y
                ),
                x,
                y - 46.0,
            )
        } else {
            // A curve bent to the right of the direction of travel, so A->B and B->A part.
            let (dx, dy) = (x2 - x1, y2 - y1);
            let length = (dx * dx + dy * dy).sqrt().max(1.0);
            let (ux, uy) = (dx / length, dy / length);
            let (sx, sy) = (x1 + ux * NODE_RADIUS, y1 + uy * NODE_RADIUS);
            let (ex, ey) = (x2 - ux * (NODE_RADIUS + 2.0), y2 - uy * (NODE_RADIUS + 2.0));
            let bend = (length * 0.12).min(40.0);
            let (cx, cy) = ((sx + ex) / 2.0 - uy * bend, (sy + ey) / 2.0 + ux * bend);
            (
                format!("M{sx:.1},{sy:.1} Q{cx:.1},{cy:.1} {ex:.1},{ey:.1}"),
                (sx + 2.0 * cx + ex) / 4.0,
                (sy + 2.0 * cy + ey) / 4.0,
            )
        };
        let _ = writeln!(
            out,
            r##"<g class="edge" data-edges="{ids}"><title>{}</title><path d="{path}" fill="none" stroke="#555" stroke-width="1.3" marker-end="url(#arrow)"/><text x="{lx:.1}" y="{ly:.1}" text-anchor="middle" fill="#124">{}</text></g>"##,
            xml_escape(&full),
            xml_escape(&short)
        );
    }
    out += "</g>\n<g class=\"nodes\">\n";
    let ends = report
        .classes
        .iter()
        .map(|c| c.id.as_str())
        .chain([INTERNET]);
    for id in ends {
        let (x, y) = layout.positions[id];
        let fill = if id == INTERNET { "#fde2c8" } else { "#d6e6fa" };
        let label = end_label(report, id);
        let _ = writeln!(
            out,
            r##"<g class="node" data-class="{}"><title>{}</title><circle cx="{x:.1}" cy="{y:.1}" r="{NODE_RADIUS}" fill="{fill}" stroke="#246"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" font-weight="bold">{}</text></g>"##,
            xml_escape(id),
            xml_escape(&label),
            y + NODE_RADIUS + 14.0,
            xml_escape(&shorten(&label, 28))
        );
    }
    out += "</g>\n</svg>\n";
    out
}

/// The matrix as an HTML table: a row per source, a column per destination (classes, then the
/// internet), each cell the services of both families.
fn matrix(report: &ReachReport) -> String {
    let ends: Vec<String> = report
        .classes
        .iter()
        .map(|c| c.id.clone())
        .chain([INTERNET.to_string()])
        .collect();
    let mut cells: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
    for (i, edge) in report.edges.iter().enumerate() {
        cells.entry((&edge.from, &edge.to)).or_default().push(i);
    }
    let mut out = String::from("<table id=\"matrix\"><thead><tr><th>from \\ to</th>");
    for id in &ends {
        let _ = write!(
            out,
            "<th data-class=\"{}\">{}</th>",
            xml_escape(id),
            xml_escape(&end_label(report, id))
        );
    }
    out += "</tr></thead><tbody>\n";
    for from in &ends {
        let _ = write!(
            out,
            "<tr><th data-class=\"{}\">{}</th>",
            xml_escape(from),
            xml_escape(&end_label(report, from))
        );
        for to in &ends {
            match cells.get(&(from.as_str(), to.as_str())) {
                Some(indexes) => {
                    let ids: Vec<String> = indexes.iter().map(|i| i.to_string()).collect();
                    let text: Vec<String> = indexes
                        .iter()
                        .map(|&i| {
                            let e = &report.edges[i];
                            let prefix = if e.family == "IPv4" { "" } else { "IPv6: " };
                            xml_escape(&format!("{prefix}{}", shorten(&e.summary, 60)))
                        })
                        .collect();
                    let _ = write!(
                        out,
                        "<td class=\"cell\" data-edges=\"{}\">{}</td>",
                        ids.join(","),
                        text.join("<br>")
                    );
                }
                None => out += "<td class=\"none\">–</td>",
            }
        }
        out += "</tr>\n";
    }
    out += "</tbody></table>\n";
    out
}

const STYLE: &str = r#"
body { font-family: sans-serif; margin: 1.5em; color: #123; }
#layout { display: flex; gap: 1.5em; align-items: flex-start; }
#graph { border: 1px solid #ccd; overflow: auto; max-width: 70vw; max-height: 80vh; }
#details { min-width: 22em; max-width: 36em; border: 1px solid #ccd; padding: 0.8em; }
[data-class], [data-edges] { cursor: pointer; }
.edge:hover path { stroke: #c30; stroke-width: 2.5; }
.node:hover circle { stroke-width: 3; }
table { border-collapse: collapse; margin-top: 1em; font-size: 12px; }
th, td { border: 1px solid #ccd; padding: 3px 6px; vertical-align: top; }
td.cell:hover, th[data-class]:hover { background: #eef; }
td.none { color: #aaa; text-align: center; }
code { background: #f4f4f8; }
"#;

const SCRIPT: &str = r#"
(function () {
  const data = JSON.parse(document.getElementById('reach-data').textContent);
  const details = document.getElementById('details');
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) =>
    ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  const list = (items, empty) => items.length
    ? '<ul>' + items.map((i) => '<li><code>' + esc(i) + '</code></li>').join('') + '</ul>'
    : '<p>' + esc(empty) + '</p>';
  function showClass(key) {
    if (key === 'internet') {
      details.innerHTML = '<h3>internet</h3><p>Every public address (outside RFC 1918, '
        + '100.64.0.0/10, 169.254.0.0/16, fc00::/7 and fe80::/10). It has no security group.</p>';
      return;
    }
    const nics = data.classes[key];
    details.innerHTML = '<h3>' + esc(key) + '</h3><p>' + nics.length
      + ' NIC(s) with the same answers to and from everyone:</p>' + list(nics, '');
  }
  function showEdges(indexes) {
    details.innerHTML = indexes.map((i) => {
      const e = data.edges[i];
      const items = e.allowed.map((a) => a.protocol + ' dst ' + a.dst_ports.join(',')
        + ' src ' + a.src_ports.join(','));
      return '<h3>' + esc(e.from) + ' &rarr; ' + esc(e.to) + ' (' + esc(e.family) + ')</h3>'
        + '<p class="summary">' + esc(e.summary) + '</p>' + list(items, '')
        + '<h4>accepted on egress of ' + esc(e.from) + ' by</h4>'
        + list(e.egress_rules, 'the internet has no security group')
        + '<h4>accepted on ingress of ' + esc(e.to) + ' by</h4>'
        + list(e.ingress_rules, 'the internet has no security group');
    }).join('');
  }
  document.querySelectorAll('[data-class]').forEach((el) =>
    el.addEventListener('click', () => showClass(el.dataset.class)));
  document.querySelectorAll('[data-edges]').forEach((el) =>
    el.addEventListener('click', () => showEdges(el.dataset.edges.split(',').map(Number))));

  // Self-test: everything in the data is drawn, and clicking shows it.
  const problems = [];
  const classIds = Object.keys(data.classes);
  const nodes = document.querySelectorAll('#graph [data-class]').length;
  if (nodes !== classIds.length + 1) problems.push(nodes + ' nodes for ' + classIds.length + ' classes');
  const drawn = new Set();
  document.querySelectorAll('#graph [data-edges]').forEach((el) =>
    el.dataset.edges.split(',').forEach((i) => drawn.add(Number(i))));
  if (drawn.size !== data.edges.length) problems.push(drawn.size + ' of ' + data.edges.length + ' edges drawn');
  const rows = document.querySelectorAll('#matrix tbody tr').length;
  if (rows !== classIds.length + 1) problems.push(rows + ' matrix rows');
  const click = (el) => el.dispatchEvent(new MouseEvent('click', { bubbles: true }));
  const firstNode = document.querySelector('#graph .node[data-class]');
  if (classIds.length && firstNode.dataset.class !== 'internet') {
    click(firstNode);
    const nics = data.classes[firstNode.dataset.class];
    if (!nics || !details.textContent.includes(nics[0])) problems.push('a class click does not list its NICs');
  }
  if (data.edges.length) {
    click(document.querySelector('#graph [data-edges]'));
    if (!details.querySelector('.summary')) problems.push('an edge click does not show its services');
  }
  details.innerHTML = '<p>Click a class (node or matrix header) for its NICs, an arrow or a cell for the services and the rules that accept them.</p>';
  document.body.dataset.selftest = problems.length ? 'failed: ' + problems.join('; ') : 'ok';
  document.title = 'sgsim reach: self-test ' + (problems.length ? 'FAILED' : 'ok');
})();
"#;

/// One self-contained page: no scripts, styles or fonts from elsewhere. After its own checks
/// the page sets `data-selftest="ok"` on `<body>` and its title to `sgsim reach: self-test ok`.
pub fn html(report: &ReachReport, source: &str) -> String {
    let json = serde_json::to_string(report).expect("the report serialises");
    // `<` only appears inside JSON strings, where `\u003c` means the same: no `</script>` early.
    let json = json.replace('<', "\\u003c");
    let nics: usize = report.classes.iter().map(|c| c.nics.len()).sum();
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>sgsim reach</title>
<style>{STYLE}</style>
<script>window.addEventListener('error', function (e) {{ document.body.dataset.selftest = 'error: ' + e.message; document.title = 'sgsim reach: self-test FAILED'; }});</script>
</head>
<body data-selftest="pending">
<h1>Who can reach whom: {source}</h1>
<p>{nics} NIC(s) in {classes} class(es) of NICs with the same answers to and from everyone; <code>internet</code> is every public address. An arrow is what its source may open to its destination (both sides' security groups accept it).</p>
<div id="layout"><div id="graph">
{svg}</div>
<div id="details"><p>Loading…</p></div></div>
<h2>Matrix</h2>
{matrix}
<script id="reach-data" type="application/json">{json}</script>
<script>{SCRIPT}</script>
</body></html>
"#,
        source = xml_escape(source),
        classes = report.classes.len(),
        svg = svg(report),
        matrix = matrix(report),
    )
}
