"""The share pages' style sheet (inline, with the page's nonce; no external files)."""

from __future__ import annotations

CSS = """
:root{--bg:#f4f6f9;--card:#fff;--ink:#1c2430;--muted:#5d6b7e;--line:#dde3ea;
--accent:#1f6feb;--accent-ink:#fff;--bar:#14202e;--bad:#b42318;--bad-bg:#fdecea}
*{box-sizing:border-box}
html{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
color:var(--ink);background:var(--bg);line-height:1.45}
body{margin:0;min-height:100vh;display:flex;flex-direction:column}
a{color:var(--accent)}
.bar{background:var(--bar);color:#e8eef5;display:flex;align-items:center;gap:1rem;
padding:.7rem 1.5rem;flex-wrap:wrap}
.bar a{color:#cfe0ff;text-decoration:none}
.bar a:hover{text-decoration:underline}
.brand{font-weight:700;letter-spacing:.02em;font-size:1.05rem}
.brand span{color:#7fb0ff}
.bar .note{color:#9fb0c4;font-size:.9rem;margin-left:auto}
main{width:100%;max-width:1100px;margin:0 auto;padding:1.5rem;flex:1}
h1{font-size:1.6rem;margin:.2rem 0 .4rem}
h2{font-size:1.25rem;margin:0}
.lead{color:var(--muted);margin:.2rem 0 .8rem;white-space:pre-line}
.meta{display:flex;gap:.5rem;flex-wrap:wrap;margin:.6rem 0 1.4rem;padding:0;list-style:none}
.pill{background:#e7edf5;color:#34465c;border-radius:999px;padding:.15rem .7rem;font-size:.85rem}
.pill.ok{background:#e3f4e8;color:#1d6b3a}
.study{background:var(--card);border:1px solid var(--line);border-radius:10px;
padding:1.1rem 1.25rem;margin-bottom:1.1rem;box-shadow:0 1px 2px rgba(20,32,46,.05)}
.study-head{display:flex;gap:1rem;align-items:flex-start;justify-content:space-between;
flex-wrap:wrap}
.study-head>div:first-child{flex:1 1 420px}
.actions{flex:0 0 auto;padding-top:.2rem}
.facts{display:flex;flex-wrap:wrap;gap:.4rem 1.4rem;margin:.6rem 0 0}
.facts div{min-width:4.5rem}
.facts dt{font-size:.75rem;text-transform:uppercase;letter-spacing:.05em;color:var(--muted)}
.facts dd{margin:0;font-weight:600}
.desc{margin:.6rem 0 0;color:#34465c}
.button{display:inline-block;background:var(--accent);color:var(--accent-ink);border:0;
border-radius:6px;padding:.5rem .95rem;font:inherit;font-weight:600;text-decoration:none;
cursor:pointer;white-space:nowrap}
.button:hover{filter:brightness(1.08)}
.button.secondary{background:#e7edf5;color:var(--ink)}
.button.disabled{opacity:.4;pointer-events:none}
.no-download{color:var(--muted);font-size:.9rem}
.series{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:.9rem;
list-style:none;padding:0;margin:1rem 0 0}
.series a{display:block;text-decoration:none;color:var(--ink);border:1px solid var(--line);
border-radius:8px;padding:.5rem;background:#fafbfc}
.series a:hover{border-color:var(--accent);background:#f2f7ff}
.thumb{display:block;width:128px;height:128px;margin:0 auto;background:#0b0f14;
border-radius:4px;object-fit:contain}
.caption{display:block;font-size:.85rem;margin-top:.4rem;text-align:center}
.caption small{display:block;color:var(--muted)}
.empty{color:var(--muted);font-style:italic;margin:.8rem 0 0}
.notice{max-width:460px;margin:4rem auto;background:var(--card);border:1px solid var(--line);
border-radius:10px;padding:1.6rem 1.8rem;box-shadow:0 2px 8px rgba(20,32,46,.06)}
.notice p{color:#34465c}
.error{background:var(--bad-bg);color:var(--bad);border-radius:6px;padding:.5rem .75rem}
label{display:block;font-weight:600;margin:.8rem 0 .3rem}
input[type=password]{width:100%;padding:.55rem .7rem;font:inherit;border:1px solid #b8c3d1;
border-radius:6px}
input[type=password]:focus{outline:2px solid var(--accent);border-color:transparent}
form .button{margin-top:1rem}
footer{color:var(--muted);font-size:.8rem;text-align:center;padding:1rem}
body.dark{background:#0b0f14;color:#dfe6ee}
body.dark main{max-width:none;display:flex;flex-direction:column;align-items:center;
padding:1rem}
.toolbar{display:flex;gap:.6rem;align-items:center;flex-wrap:wrap;justify-content:center;
margin-bottom:.8rem}
.position{min-width:9rem;text-align:center;font-variant-numeric:tabular-nums}
.presets{display:flex;gap:.3rem;align-items:center;flex-wrap:wrap}
.presets span{color:#8a9bb0;margin-right:.2rem}
.presets a{color:#cfe0ff;text-decoration:none;border:1px solid #34465c;border-radius:6px;
padding:.3rem .6rem;font-size:.9rem}
.presets a.active{background:#1f6feb;border-color:#1f6feb;color:#fff}
.stage{margin:0;display:flex;justify-content:center;align-items:center;width:100%}
.stage img{height:min(78vh,1024px);width:auto;max-width:100%;object-fit:contain;
background:#000;border-radius:4px}
#slider{width:min(320px,80vw)}
.hint{color:#8a9bb0;font-size:.8rem;margin-top:.6rem}
"""
