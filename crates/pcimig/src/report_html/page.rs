//! The page around the sections: inline CSS (generated from [`ByteClass::colour`]), the
//! legend, and a small inline script. Nothing is loaded from anywhere.

use super::escape;
use super::grid::ByteClass;
use std::fmt::Write;

/// The mark of a mismatching byte: an outline in this colour.
pub const MISMATCH_COLOUR: &str = "#d7191c";

/// The fixed part of the stylesheet.
const BASE_CSS: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:1.5em;color:#1b1b1b;background:#fff}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}
code,pre,.cfgmap{font-family:ui-monospace,'DejaVu Sans Mono',monospace}
.verdict{font-weight:bold;font-size:1.1em}.verdict-pass{color:#1a7f37}.verdict-fail{color:#b3261e}
.verdict-undecided{color:#8a6100}
.qemu-line{background:#f4f4f4;padding:.4em .6em;white-space:pre-wrap;word-break:break-all}
.legend{display:flex;flex-wrap:wrap;gap:.4em 1.2em;list-style:none;padding:0}
.legend li{display:flex;align-items:center;gap:.4em}
.swatch{display:inline-block;width:1.1em;height:1.1em;border:1px solid #999}
.cfgmap{border-collapse:collapse;font-size:11px;margin:.6em 0}
.cfgmap th{font-weight:normal;color:#666;padding:0 3px;text-align:right}
.cfgmap td{border:1px solid #fff;text-align:center;cursor:pointer}
.cfgmap.cols16 td{width:24px;height:20px}
.cfgmap.cols64 td{width:10px;height:10px;padding:0}
.cfgmap.cols64 th{font-size:9px}
.detail{min-height:1.4em;font-family:ui-monospace,monospace;font-size:12px;background:#f4f4f4;padding:.3em .5em}
table.list{border-collapse:collapse;font-size:13px}
table.list td,table.list th{border:1px solid #ccc;padding:2px 6px;text-align:left}
.fleet td.pass{background:#9fdf9f}.fleet td.fail{background:#f4a6a6}.fleet td.na{color:#999}
";

/// The stylesheet: the fixed part, one rule per [`ByteClass`], and the mismatch mark.
fn css() -> String {
    let mut s = String::from(BASE_CSS);
    for c in ByteClass::ALL {
        let _ = writeln!(
            s,
            ".cfgmap td[data-class=\"{}\"],.swatch.{}{{background:{}}}",
            c.as_str(),
            c.as_str(),
            c.colour()
        );
    }
    let _ = writeln!(
        s,
        ".cfgmap td[data-mismatch=\"1\"],.swatch.mismatch{{outline:3px solid {MISMATCH_COLOUR};outline-offset:-3px;\
         font-weight:bold;color:{MISMATCH_COLOUR}}}"
    );
    s
}

/// The inline script: a click on a byte shows its title in the map's detail line; every cell
/// records the colours the browser computed for it (`data-bg`, and `data-outline` on a
/// mismatch) so what was drawn can be read back from the DOM.
const SCRIPT: &str = "\
(function(){
  document.querySelectorAll('table.cfgmap td[data-off]').forEach(function(td){
    var cs=getComputedStyle(td);
    td.setAttribute('data-bg',cs.backgroundColor);
    if(td.getAttribute('data-mismatch')==='1'){td.setAttribute('data-outline',cs.outlineColor+' '+cs.outlineStyle);}
    td.addEventListener('click',function(){
      var d=td.closest('section').querySelector('.detail');
      if(d){d.textContent=td.title;}
    });
  });
  document.body.setAttribute('data-rendered','1');
})();
";

/// The legend: one swatch per class, and the mismatch mark.
pub fn legend() -> String {
    let mut s = String::from("<ul class=\"legend\" id=\"legend\">");
    for c in ByteClass::ALL {
        let _ = write!(
            s,
            "<li data-class=\"{}\"><span class=\"swatch {}\"></span>{}</li>",
            c.as_str(),
            c.as_str(),
            escape(c.meaning())
        );
    }
    s.push_str(
        "<li data-class=\"mismatch\"><span class=\"swatch mismatch\"></span>mismatch: saved and destination \
         differ in checked bits (QEMU refuses the first)</li></ul>\n",
    );
    s
}

/// A whole page: `title` and the `body` HTML, with the stylesheet and script inline.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; \
         script-src 'unsafe-inline'\">\n<title>{}</title>\n<style>\n{}</style>\n</head>\n<body>\n<h1>{}</h1>\n{body}\
         <script>\n{SCRIPT}</script>\n</body>\n</html>\n",
        escape(title),
        css(),
        escape(title)
    )
}
