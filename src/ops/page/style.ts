// The ops page's style sheet, served as /ops/style.css (a TS string module: see html.ts).
/** The page's icon (so that the browser does not ask for /favicon.ico, which is not served). */
export const OPS_ICON = String.raw`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="6" fill="#1b7f3b"/></svg>`;

export const OPS_CSS = String.raw`:root { color-scheme: light dark; font: 14px/1.4 system-ui, sans-serif; }
body { margin: 0; padding: 0 1rem 2rem; }
header { display: flex; align-items: center; gap: 1rem; border-bottom: 1px solid #8884; }
h1 { font-size: 1.2rem; }
h2 { font-size: 1rem; margin: 0 0 .5rem; }
h3 { font-size: .9rem; margin: .8rem 0 .3rem; }
small { font-weight: normal; opacity: .7; }
[hidden] { display: none !important; }
#dashboard { display: grid; grid-template-columns: repeat(auto-fit, minmax(22rem, 1fr)); gap: 1rem; margin-top: 1rem; }
.panel { border: 1px solid #8884; border-radius: 6px; padding: .8rem 1rem; margin-top: 1rem; }
#dashboard .panel { margin-top: 0; }
.wide, .toolbar:first-child { grid-column: 1 / -1; }
.toolbar { display: flex; gap: .5rem; align-items: center; }
.row { display: flex; gap: .5rem; }
#token { flex: 1; font-family: ui-monospace, monospace; padding: .3rem; }
button { padding: .3rem .8rem; cursor: pointer; }
button.danger { background: #b3261e; color: #fff; border: 1px solid #b3261e; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0; }
.facts dt { opacity: .7; }
.facts dd { margin: 0; font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .2rem .5rem; border-bottom: 1px solid #8882; vertical-align: top; }
td.rate, td.total, td.members { text-align: right; font-variant-numeric: tabular-nums; }
pre { margin: 0; max-height: 10rem; overflow: auto; white-space: pre-wrap; word-break: break-all; font-size: 12px; }
.status { padding: .1rem .5rem; border-radius: 4px; background: #8883; }
.ok { color: #1b7f3b; }
.bad, .error { color: #b3261e; }
.confirm { border: 1px solid #b3261e; border-radius: 6px; padding: .5rem; margin: .5rem 0; }
`;
