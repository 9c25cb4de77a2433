import type { Judgement, Redirect, Stage } from '../policy/index.js';

/** `ironcode policy explain`: the parse, the exact form that would run, every rule that hit. */
export function formatExplanation(line: string, judgement: Judgement): string {
  const out: string[] = [`Command line: ${JSON.stringify(line)}`];
  if (judgement.script) {
    out.push('', 'Parsed (this is exactly what would run; no shell is involved):');
    judgement.script.items.forEach((item, i) => {
      const joiner = i === 0 ? '' : `${item.connector} `;
      out.push(`  ${joiner}${item.pipeline.negated ? '! ' : ''}pipeline of ${item.pipeline.stages.length}:`);
      for (const stage of item.pipeline.stages) out.push(`    ${formatStage(stage)}`);
    });
  } else {
    out.push('', 'Not parsed into a runnable form (refused before normalisation).');
  }
  out.push('', judgement.hits.length === 0 ? 'Rules that refused something: none' : 'Rules that refused something:');
  for (const hit of judgement.hits) out.push(`  ✗ ${hit.rule} [${hit.severity}] ${hit.reason}`);
  const d = judgement.decision;
  out.push('', `Decision: ${d.allowed ? 'ALLOWED' : 'DENIED'} by ${d.rule} [${d.severity}]: ${d.reason}`);
  return out.join('\n');
}

function formatStage(stage: Stage): string {
  const env = Object.entries(stage.env).map(([k, v]) => `${k}=${JSON.stringify(v)} `).join('');
  const redirects = stage.redirects.map(formatRedirect).join(' ');
  return `${env}argv ${JSON.stringify(stage.argv)}${redirects ? `  ${redirects}` : ''}`;
}

function formatRedirect(r: Redirect): string {
  switch (r.kind) {
    case 'file':
      return `${r.bothStdoutAndStderr ? '&' : r.fd}${r.mode === 'read' ? '<' : r.mode === 'append' ? '>>' : '>'}${r.path}`;
    case 'dup':
      return `${r.fd}>&${r.target}`;
    case 'text':
      return `${r.fd}<<<(${r.text.length} bytes of text)`;
  }
}
