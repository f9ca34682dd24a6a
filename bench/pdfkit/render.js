#!/usr/bin/env node
// Renders a QBR document (docs/qbr-document.md) with PDFKit, as the original
// Node design would have: the same nine sections, gauges, tables that continue
// across pages with their header repeated, bar chart, tiles, header, footer with
// "Page X of N", DRAFT mark, logo, the same DejaVu fonts.  For bench/pdf_bench.sh.
//
//   node render.js DOC.json OUT.pdf [RUNS]
//
// Renders RUNS times (after one warm-up run) in this process and prints one
// JSON line: {"runs": N, "median_ms": ..., "min_ms": ..., "size": bytes}.
// Each timed run parses the JSON text and renders into a Buffer, like
// etop.qbr_render_doc() parses jsonb and returns a bytea.
'use strict';
const fs = require('fs');
const PDFDocument = require('pdfkit');

const FONT_DIR = process.env.QBR_FONT_DIR || '/usr/share/fonts/truetype/dejavu';
const REGULAR = `${FONT_DIR}/DejaVuSans.ttf`;
const BOLD = `${FONT_DIR}/DejaVuSans-Bold.ttf`;
const INK = '#212529', MUTED = '#646c76', RULE = '#d0d5db', ZEBRA = '#f4f6f8', TRACK = '#d6dbe1';
const GOOD = '#2e7d32', FAIR = '#d68f00', POOR = '#c62828';
const M = 50;

const band = (s, higher) => higher ? (s >= 80 ? 'Good' : s >= 60 ? 'Fair' : 'Needs attention')
                                   : (s <= 20 ? 'Good' : s <= 40 ? 'Fair' : 'Needs attention');
const bandColor = (b) => b === 'Good' ? GOOD : b === 'Fair' ? FAIR : POOR;
const cap = (s) => s ? s.charAt(0).toUpperCase() + s.slice(1) : '';
const fmtInt = (n) => Math.round(n).toLocaleString('en-US');
const pct = (a, b) => b > 0 && a >= 0 ? (a * 100 / b).toFixed(1) + '%' : 'n/a';
const rank = (l) => ({ low: 1, medium: 2, moderate: 2, high: 3, critical: 4 })[String(l || '').toLowerCase()]
                    || (/^[1-5]$/.test(String(l)) ? Number(l) : 0);
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const SYMBOLS = { USD: '$', EUR: '€', GBP: '£', JPY: '¥', CAD: 'CA$', AUD: 'A$', NZD: 'NZ$', INR: '₹' };
const money = (v, cur) => { cur = (cur || 'USD').toUpperCase(); return SYMBOLS[cur] ? SYMBOLS[cur] + fmtInt(v) : `${cur} ${fmtInt(v)}`; };

function mix(hex, t) {
  const n = parseInt(hex.slice(1), 16), c = [n >> 16, (n >> 8) & 255, n & 255].map((v) => Math.round(v + (255 - v) * t));
  return '#' + c.map((v) => v.toString(16).padStart(2, '0')).join('');
}

function render(doc) {
  const accent = (doc.msp && doc.msp.accent_color) || '#1F4E79';
  const tint = mix(accent, 0.9);
  const a4 = String(doc.page_size || '').toLowerCase() === 'a4';
  const pdf = new PDFDocument({ size: a4 ? 'A4' : 'LETTER', margins: { top: 84, bottom: 60, left: M, right: M },
                                bufferPages: true, autoFirstPage: true,
                                info: { Title: `Quarterly Business Review — ${doc.client.name} — ${doc.period}`,
                                        Author: doc.msp && doc.msp.name, Creator: 'etop (PDFKit benchmark)' } });
  const chunks = [];
  pdf.on('data', (c) => chunks.push(c));
  pdf.registerFont('R', REGULAR);
  pdf.registerFont('B', BOLD);
  const W = pdf.page.width - 2 * M, bottom = () => pdf.page.height - 60, top = 84;
  const need = (h) => { if (pdf.y + h > bottom() && pdf.y > top + 0.5) pdf.addPage(); };
  const space = (h) => { if (pdf.y > top + 0.5) { if (pdf.y + h > bottom()) pdf.addPage(); else pdf.y += h; } };

  // paragraph with citations in a muted accent colour
  const cite = mix(accent, 0.45);
  function para(text, { size = 9.5, font = 'R', color = INK, indent = 0, rich = false } = {}) {
    if (!text) return;
    pdf.font(font).fontSize(size).fillColor(color);
    const opts = { width: W - indent, lineGap: size * 0.42 };
    for (const p of String(text).split(/\n+/).filter((s) => s.trim())) {
      pdf.x = M + indent;
      if (!rich) { pdf.text(p, M + indent, pdf.y, opts); }
      else {
        const runs = p.split(/(\[[^\]]*\])/).filter((s) => s.length);
        runs.forEach((r, i) => {
          pdf.fillColor(r.startsWith('[') ? cite : color);
          if (i === 0) pdf.text(r, M + indent, pdf.y, { ...opts, continued: runs.length > 1 });
          else pdf.text(r, { continued: i < runs.length - 1 });
        });
      }
      pdf.moveDown(0.45);
    }
    pdf.x = M;
  }
  const note = (s) => para(s, { color: MUTED });
  function title(t, keep = 60) {
    need(56 + keep); space(22);
    pdf.font('B').fontSize(15).fillColor(accent).text(t, M, pdf.y, { width: W });
    const y = pdf.y + 3;
    pdf.moveTo(M, y).lineTo(M + W, y).lineWidth(0.6).strokeColor(RULE).stroke();
    pdf.moveTo(M, y).lineTo(M + 44, y).lineWidth(2.4).strokeColor(accent).stroke();
    pdf.y = y + 10;
  }
  function subheading(t, keep = 30) {
    need(25 + keep); space(6);
    pdf.font('B').fontSize(10.5).fillColor(INK).text(t, M, pdf.y, { width: W }); pdf.moveDown(0.3);
  }
  function bullets(items, mark, color, size = 9.5) {
    for (const it of items) {
      if (!it) continue;
      need(14);
      pdf.font('B').fontSize(size).fillColor(color).text(mark, M + 2, pdf.y, { lineBreak: false });
      pdf.y -= 0; para(it, { size, indent: 16, rich: true }); pdf.y -= size * 0.2;
    }
  }

  // tables: cells wrap, rows never split when they fit a page, header repeated
  function table(cols, rows, { cards = false } = {}) {
    const total = cols.reduce((a, c) => a + c.frac, 0);
    let x = M; const xs = [], ws = [];
    cols.forEach((c) => { xs.push(x); ws.push(W * c.frac / total); x += W * c.frac / total; });
    const pad = cards ? 9 : 5, padY = cards ? 6 : 4, gap = cards ? 5 : 0;
    const cellH = (c, i) => {
      let h = 0;
      if (c && c.text) h += pdf.font(c.bold ? 'B' : 'R').fontSize(8.5).heightOfString(c.text, { width: ws[i] - 2 * pad });
      if (c && c.sub) h += pdf.font('R').fontSize(7.5).heightOfString(c.sub, { width: ws[i] - 2 * pad });
      return h;
    };
    const header = () => {
      pdf.font('B').fontSize(cards ? 10 : 8.5);
      const h = Math.max(...cols.map((c, i) => pdf.heightOfString(c.title, { width: ws[i] - 2 * pad }))) + 2 * padY;
      if (!cards) pdf.rect(M, pdf.y, W, h).fill(accent);
      const y = pdf.y;
      cols.forEach((c, i) => {
        pdf.fillColor(cards ? accent : '#ffffff').text(c.title, xs[i] + pad, y + padY, { width: ws[i] - 2 * pad, align: c.right ? 'right' : 'left' });
        if (cards) pdf.moveTo(xs[i] + 3, y + h - 1).lineTo(xs[i] + ws[i] - 3, y + h - 1).lineWidth(2).strokeColor(accent).stroke();
      });
      pdf.y = y + h;
    };
    need(60); header();
    rows.forEach((row, r) => {
      const h = Math.max(...row.map((c, i) => cellH(c, i))) + 2 * padY;
      if (pdf.y + h + gap > bottom()) { pdf.addPage(); header(); }
      const y = pdf.y;
      if (cards) row.forEach((c, i) => { if (c) { pdf.rect(xs[i] + 3, y, ws[i] - 6, h).fill(tint); pdf.rect(xs[i] + 3, y, 2.5, h).fill(accent); } });
      else {
        if (r % 2) pdf.rect(M, y, W, h).fill(ZEBRA);
        pdf.moveTo(M, y + h).lineTo(M + W, y + h).lineWidth(0.5).strokeColor(RULE).stroke();
      }
      row.forEach((c, i) => {
        if (!c) return;
        let yy = y + padY;
        if (c.text) {
          pdf.font(c.bold ? 'B' : 'R').fontSize(8.5).fillColor(c.alert ? POOR : INK)
            .text(c.text, xs[i] + pad, yy, { width: ws[i] - 2 * pad, align: cols[i].right ? 'right' : 'left' });
          yy = pdf.y;
        }
        if (c.sub) pdf.font('R').fontSize(7.5).fillColor(MUTED).text(c.sub, xs[i] + pad, yy, { width: ws[i] - 2 * pad });
      });
      pdf.y = y + h + gap;
    });
    pdf.x = M; space(6);
  }
  function tiles(list) {
    const gap = 10, w = (W - gap * (list.length - 1)) / list.length, h = 58;
    need(h + 6); const y = pdf.y;
    list.forEach((t, i) => {
      const x = M + i * (w + gap);
      pdf.rect(x, y, w, h).fill(tint); pdf.rect(x, y, 3, h).fill(accent);
      pdf.font('B').fontSize(17).fillColor(INK).text(t.value, x + 12, y + 9, { width: w - 20, lineBreak: false });
      pdf.font('B').fontSize(8).fillColor(accent).text(t.label, x + 12, y + 31, { width: w - 20, lineBreak: false });
      pdf.font('R').fontSize(7.5).fillColor(MUTED).text(t.sub, x + 12, y + 43, { width: w - 20, lineBreak: false });
    });
    pdf.x = M; pdf.y = y + h; space(10);
  }
  function arc(cx, cy, r, a0, a1, color) {  // degrees, 0 = up, clockwise (as libharu)
    if (a1 - a0 < 0.05) return;
    const p = (a) => [cx + r * Math.sin(a * Math.PI / 180), cy - r * Math.cos(a * Math.PI / 180)];
    const [x0, y0] = p(a0), [x1, y1] = p(a1);
    pdf.path(`M ${x0} ${y0} A ${r} ${r} 0 ${a1 - a0 > 180 ? 1 : 0} 1 ${x1} ${y1}`).lineWidth(11).lineCap('butt').strokeColor(color).stroke();
  }

  // title block
  const n = doc.narrative || {}, s = doc.scores || {}, svc = doc.service || {}, sec = doc.security || {};
  const life = doc.lifecycle || {}, road = doc.roadmap || {};
  pdf.font('B').fontSize(8.5).fillColor(accent).text('QUARTERLY BUSINESS REVIEW', M, top);
  pdf.font('B').fontSize(22).fillColor(INK).text(doc.client.name, { width: W });
  para([doc.period, doc.client.segment && `Segment ${doc.client.segment}`, doc.client.industry].filter(Boolean).join(' · '), { size: 11, color: MUTED });
  para([doc.msp && doc.msp.name && `Prepared by ${doc.msp.name}`, doc.as_of && `Data as of ${doc.as_of}`].filter(Boolean).join(' · '), { size: 8.5, color: MUTED });

  // 1
  title('Executive Summary');
  const summary = Array.isArray(n.executive_summary) ? n.executive_summary.join('\n') : n.executive_summary;
  if (summary) para(summary, { size: 10, rich: true }); else note('No executive summary was provided for this quarter.');

  // 2
  title('Score Dashboard', 180);
  { const gw = W / 3, y = pdf.y, h = 170;
    [['Standards', s.standards, true], ['Risk', s.risk, false], ['Experience', s.experience, true]].forEach(([label, sc, hib], i) => {
      const x = M + i * gw, cx = x + gw / 2, cy = y + 34 + 46;
      pdf.rect(x + 4, y, gw - 8, h).fill(tint);
      pdf.font('B').fontSize(11).fillColor(INK).text(label, x, y + 8, { width: gw, align: 'center' });
      arc(cx, cy, 46, -90, 90, TRACK);
      const ok = sc && typeof sc.score === 'number';
      if (ok) { const b = band(sc.score, hib); arc(cx, cy, 46, -90, -90 + 1.8 * Math.min(100, sc.score), bandColor(b));
        pdf.font('B').fontSize(24).fillColor(INK).text(String(Math.round(sc.score * 10) / 10), x, cy - 24, { width: gw, align: 'center' });
        pdf.font('B').fontSize(9).fillColor(bandColor(b)).text(b, x, cy + 8, { width: gw, align: 'center' }); }
      else { pdf.font('B').fontSize(24).fillColor(MUTED).text('—', x, cy - 24, { width: gw, align: 'center' });
        pdf.font('B').fontSize(9).fillColor(MUTED).text('Not enough data', x, cy + 8, { width: gw, align: 'center' }); }
      pdf.font('R').fontSize(7).fillColor(MUTED).text('0', cx - 56, cy + 4, { width: 20, align: 'center' }).text('100', cx + 36, cy + 4, { width: 20, align: 'center' });
      pdf.fontSize(7.5).text(hib ? 'higher is better' : 'lower is better', x, cy + 20, { width: gw, align: 'center' });
      if (sc && sc.movement) pdf.font('R').fontSize(8.5).fillColor(INK).text(sc.movement, x + 12, cy + 36, { width: gw - 24, align: 'center' });
    });
    pdf.x = M; pdf.y = y + h + 8; }
  para('Standards and Experience: higher is better (good from 80, fair from 60). Risk: lower is better (good up to 20, fair up to 40).', { size: 7.5, color: MUTED });

  // 3
  const risks = (doc.risks || []).map((r, i) => ({ r, i, k: rank(r.likelihood) * rank(r.impact) }))
    .sort((a, b) => b.k - a.k || a.i - b.i).slice(0, 5).map((x) => x.r);
  title('Top 5 Risks', 40 + risks.length * 40);
  if (!risks.length) note('No open risks were identified this quarter.');
  else {
    para(doc.risks.length > 5 ? `The 5 highest of ${doc.risks.length} identified risks, ranked by likelihood × impact.` : 'Ranked by likelihood × impact.', { size: 8.5, color: MUTED });
    table([{ title: 'Risk Title', frac: 25 }, { title: 'Business Impact', frac: 31 }, { title: 'Status', frac: 11 }, { title: 'Mitigation Action', frac: 33 }],
      risks.map((r) => [{ text: r.title, bold: true, sub: (r.likelihood || r.impact) ? `Likelihood: ${cap(r.likelihood || 'unknown')} · Impact: ${cap(r.impact || 'unknown')}` : null },
        { text: r.business_impact }, { text: cap(r.status) }, { text: r.mitigation }]));
  }

  // 4
  title('Top 5 Wins');
  const wins = (doc.wins || []).slice(0, 5);
  if (wins.length) bullets(wins, '✓', GOOD); else note('No wins were recorded for this quarter.');

  // 5
  title('Service Experience Story');
  const months = svc.tickets_per_month || [];
  const totalT = typeof svc.total === 'number' ? svc.total : months.reduce((a, m) => a + m.count, 0);
  if (!n.trends && !months.length && svc.total == null) note('No service tickets were recorded for this period.');
  else {
    if (n.trends) para(n.trends, { rich: true });
    subheading('Tickets per month', 164);
    if (months.length) {
      need(164);
      const left = M + 36, pw = W - 36, ph = 120, y0 = pdf.y + 12 + ph, max = Math.max(1, ...months.map((m) => m.count));
      let step = 1; for (let sc = 1; ; sc *= 10) { const c = [1, 2, 5].map((k) => k * sc).find((c) => Math.ceil(max / c) <= 5); if (c) { step = c; break; } }
      const axis = Math.ceil(max / step) * step, slot = pw / months.length, bw = Math.min(34, slot * 0.62);
      for (let v = 0; v <= axis; v += step) { const yv = y0 - ph * v / axis;
        if (v) pdf.moveTo(left, yv).lineTo(M + W, yv).lineWidth(0.4).strokeColor(RULE).stroke();
        pdf.font('R').fontSize(7).fillColor(MUTED).text(fmtInt(v), M, yv - 3, { width: 30, align: 'right' }); }
      months.forEach((m, i) => { const x = left + slot * i, bh = ph * m.count / axis;
        pdf.rect(x + (slot - bw) / 2, y0 - bh, bw, bh).fill(accent);
        pdf.font('R').fontSize(7).fillColor(INK).text(fmtInt(m.count), x, y0 - bh - 10, { width: slot, align: 'center' });
        const mm = /^(\d{4})-(\d{2})/.exec(m.month), mon = mm ? MONTHS[Number(mm[2]) - 1] : m.month;
        pdf.fillColor(MUTED).text(mon, x, y0 + 4, { width: slot, align: 'center' });
        if (mm && (i === 0 || mon === 'Jan')) pdf.font('B').fontSize(6.5).text(mm[1], x - 10, y0 + 13, { width: slot + 20, align: 'center' }); });
      pdf.moveTo(left, y0).lineTo(M + W, y0).lineWidth(0.8).strokeColor(MUTED).stroke();
      pdf.x = M; pdf.y = y0 + 26;
    } else note('No monthly ticket counts are available.');
    tiles([{ value: fmtInt(totalT), label: 'Tickets', sub: 'tickets in the period' },
      { value: pct(svc.sla_met, svc.sla_total), label: 'SLA met', sub: `${fmtInt(svc.sla_met || 0)} of ${fmtInt(svc.sla_total || 0)} tickets` },
      { value: pct(svc.reopened, totalT), label: 'Reopened', sub: `${fmtInt(svc.reopened || 0)} tickets reopened` },
      { value: pct(svc.after_hours, totalT), label: 'After hours', sub: `${fmtInt(svc.after_hours || 0)} tickets after hours` }]);
  }

  // 6
  title('Security Posture Story');
  const areas = [['Identity', sec.identity], ['Email', sec.email], ['Endpoint', sec.endpoint]];
  if (areas.every(([, a]) => !a || (a.score == null && !a.summary && !(a.citations || []).length))) note('No security data was available for this quarter.');
  else for (const [name, a] of areas) {
    need(50); space(6); const y = pdf.y;
    pdf.font('B').fontSize(11).fillColor(INK).text(name, M, y);
    if (a && typeof a.score === 'number') { const b = band(a.score, true), bx = M + W - 110;
      pdf.rect(bx, y + 6, 110, 6).fill(TRACK).rect(bx, y + 6, 110 * a.score / 100, 6).fill(bandColor(b));
      pdf.font('B').fontSize(8.5).fillColor(bandColor(b)).text(`${a.score} / 100 · ${b}`, M, y + 4, { width: W - 118, align: 'right' }); }
    pdf.moveTo(M, y + 19).lineTo(M + W, y + 19).lineWidth(0.5).strokeColor(RULE).stroke(); pdf.x = M; pdf.y = y + 24;
    if (!a || (a.score == null && !a.summary && !(a.citations || []).length)) { note(`No ${name.toLowerCase()} data was available for this quarter.`); continue; }
    if (a.summary) para(a.summary, { rich: true });
    if ((a.citations || []).length) bullets(a.citations, '•', accent, 8.5);
  }

  // 7
  const old = (life.devices || []).filter((d) => typeof d.age_years === 'number' && d.age_years >= 4);
  title('Lifecycle Forecast', 90);
  if (old.length) para(`${fmtInt(old.length)} ${old.length === 1 ? 'device is' : 'devices are'} four or more years old.`); else note('No devices are four or more years old.');
  space(6);
  const budget = life.budget || {};
  if (['m12', 'm24', 'm36'].some((k) => typeof budget[k] === 'number'))
    tiles(['m12', 'm24', 'm36'].map((k, i) => ({ value: typeof budget[k] === 'number' ? money(budget[k], life.currency) : '—',
      label: `${12 * (i + 1)}-month refresh budget`, sub: `estimate, ${life.currency || 'USD'}` })));
  else note('No refresh budget has been estimated.');
  if (old.length) table([{ title: 'Device', frac: 22 }, { title: 'Type', frac: 11 }, { title: 'Model', frac: 29 }, { title: 'Age (yrs)', frac: 12, right: true }, { title: 'Warranty', frac: 26 }],
    old.map((d) => { const exp = d.warranty_expires && doc.as_of && d.warranty_expires < doc.as_of;
      return [{ text: d.name || '(unnamed)' }, { text: cap(d.type) }, { text: d.model }, { text: String(Math.round(d.age_years * 10) / 10) },
        { text: d.warranty_expires ? d.warranty_expires + (exp ? ' (expired)' : '') : '—', alert: exp }]; }));

  // 8
  const cols = [road.now || [], road.next || [], road.later || []], nrows = Math.max(...cols.map((c) => c.length));
  const recs = n.recommendations || [];
  title('Roadmap', nrows * 45 + 30);
  if (!nrows && !recs.length) note('No recommendations available for this quarter.');
  else {
    if (nrows) table([{ title: 'Now', frac: 1 }, { title: 'Next', frac: 1 }, { title: 'Later', frac: 1 }],
      Array.from({ length: nrows }, (_, r) => cols.map((c) => c[r] ? { text: c[r].title, bold: true,
        sub: [c[r].priority && `Priority: ${cap(c[r].priority)}`, c[r].cost_range].filter(Boolean).join(' · ') } : null)), { cards: true });
    if (recs.length) { subheading('Recommendations', 54);
      for (const r of recs) { need(46); space(6); para(r.title, { font: 'B', size: 10 });
        para([r.priority && `Priority: ${cap(r.priority)}`, r.effort && `Effort: ${cap(r.effort)}`, r.cost_range && `Estimated cost: ${r.cost_range}`].filter(Boolean).join(' · '), { size: 8, color: accent });
        para(r.description, { rich: true });
        if ((r.evidence || []).length) para('Evidence: ' + r.evidence.join('; '), { size: 8, color: MUTED, rich: true }); } }
  }

  // 9
  title('Outcome Plan');
  const acts = doc.outcome_plan || [];
  if (acts.length) table([{ title: 'Action', frac: 58 }, { title: 'Owner', frac: 24 }, { title: 'Due date', frac: 18 }],
    acts.map((a) => [{ text: a.action }, { text: a.owner || 'Unassigned' }, { text: a.due_date || '—' }]));
  else note('No action items have been agreed yet.');
  if ((n.discussion_points || []).length) { subheading('Discussion points for the meeting'); bullets(n.discussion_points, '•', accent); }

  // running header and footer on every page
  const logo = doc.msp && doc.msp.logo_png ? Buffer.from(String(doc.msp.logo_png).replace(/^data:[^,]*,/, ''), 'base64') : null;
  const range = pdf.bufferedPageRange();
  for (let i = 0; i < range.count; i++) {
    pdf.switchToPage(i);
    const ph = pdf.page.height, pw = pdf.page.width;
    pdf.page.margins.bottom = 0;
    let x = M;
    if (logo) { pdf.image(logo, x, 30, { fit: [110, 28] }); x += 38; }
    pdf.font('B').fontSize(11).fillColor(INK).text((doc.msp && doc.msp.name) || '', x, 41, { width: W / 2 - (x - M), lineBreak: false });
    pdf.font('B').fontSize(10).text(doc.client.name, M + W / 2, 33, { width: W / 2, align: 'right', lineBreak: false });
    pdf.font('R').fontSize(8).fillColor(MUTED).text(`${doc.period} · Quarterly Business Review`, M + W / 2, 47, { width: W / 2, align: 'right', lineBreak: false });
    pdf.moveTo(M, 66).lineTo(M + W, 66).lineWidth(1.2).strokeColor(accent).stroke();
    if (doc.draft) {
      const mark = 'DRAFT — pending approval', mw = pdf.font('B').fontSize(7.5).widthOfString(mark) + 16;
      pdf.rect((pw - mw) / 2, 11, mw, 13).fill(POOR);
      pdf.fillColor('#ffffff').text(mark, (pw - mw) / 2, 14, { width: mw, align: 'center', lineBreak: false });
      pdf.save().rotate(-45, { origin: [pw / 2, ph / 2] }).font('B').fontSize(110).fillColor(POOR).fillOpacity(0.07)
        .text('DRAFT', pw / 2 - 200, ph / 2 - 60, { lineBreak: false }).restore();
      pdf.fillOpacity(1);
    }
    pdf.moveTo(M, ph - 46).lineTo(M + W, ph - 46).lineWidth(0.5).strokeColor(RULE).stroke();
    pdf.font('R').fontSize(7.5).fillColor(MUTED)
      .text(`Prepared by ${(doc.msp && doc.msp.name) || 'your IT partner'} for ${doc.client.name}${doc.as_of ? ' · Data as of ' + doc.as_of : ''} · Confidential`,
            M, ph - 38, { width: W - 80, lineBreak: false })
      .text(`Page ${i + 1} of ${range.count}`, M, ph - 38, { width: W, align: 'right', lineBreak: false });
  }
  return new Promise((resolve) => { pdf.on('end', () => resolve(Buffer.concat(chunks))); pdf.end(); });
}

async function main() {
  const [file, out, runsArg] = process.argv.slice(2);
  if (!file || !out) { console.error('usage: node render.js DOC.json OUT.pdf [RUNS]'); process.exit(2); }
  const text = fs.readFileSync(file, 'utf8');
  const runs = Math.max(1, Number(runsArg || 1));
  let buf = await render(JSON.parse(text));  // warm-up
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    buf = await render(JSON.parse(text));
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  fs.writeFileSync(out, buf);
  times.sort((a, b) => a - b);
  const median = times.length % 2 ? times[(times.length - 1) / 2] : (times[times.length / 2 - 1] + times[times.length / 2]) / 2;
  console.log(JSON.stringify({ runs, median_ms: +median.toFixed(2), min_ms: +times[0].toFixed(2), size: buf.length, pages: (buf.toString('latin1').match(/\/Type \/Page\b/g) || []).length }));
}
main().catch((e) => { console.error(e); process.exit(1); });
