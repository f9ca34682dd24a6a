#!/usr/bin/env node
// etop's QBR job queue vs pg-boss (issue 5, "Speed"): enqueue, claim and
// complete JOBS no-op jobs with each, against the same cluster, with the same
// number of workers and connections, and print jobs/s and the ratio
// etop / pg-boss.  Run by ../queue_bench.sh, which creates the databases; see
// there for the settings (all from the environment).
//
// One measurement = one system, W workers, JOBS jobs, starting from an empty
// queue:
//   enqueue  W workers each enqueue JOBS/W jobs, one statement (and one
//            transaction) per job
//   process  W workers each loop: claim one job, complete it (two statements,
//            two transactions), until the queue is empty
// jobs/s = JOBS / (enqueue + process time).  The enqueue and process phases
// are also printed on their own.  PATTERN=interleaved instead has each worker
// enqueue one job, then claim and complete one, JOBS/W times (the queue stays
// nearly empty: no backlog to search).
//
//   etop     enqueue  SELECT etop.qbr_generate(client_id)   (ENQUEUE=generate, the default)
//                     or INSERT INTO etop.qbr_jobs (client_id) VALUES ($1)  (ENQUEUE=insert)
//            claim    SELECT * FROM etop_internal.job_claim()
//            complete UPDATE etop.qbr_jobs SET status = 'completed', ... WHERE id = $1
//                       AND status = 'active' AND worker_pid = pg_backend_pid()
//                     (what etop_internal.qbr_step(job, 4) does to the job row, without the QBR)
//   pg-boss  enqueue  boss.send(queue, {})
//            claim    boss.fetch(queue)            (batchSize 1)
//            complete boss.complete(queue, id)
//
// Both sides use node-postgres pools of W connections (pg-boss's own pool,
// `max: W`; for etop a pg.Pool of W from which each worker holds one client:
// etop's worker completes a job on the connection that claimed it).  Both
// use unnamed (unprepared) statements, as pg-boss does.  pg-boss runs with
// supervise/schedule off (its maintenance timers), as etop runs without its
// background workers: only the three queue operations are timed.
'use strict'

const pg = require('pg')
const PgBoss = require('pg-boss')

const JOBS = parseInt(process.env.JOBS || '10000', 10)
const WORKERS = (process.env.WORKERS || '1,4').split(',').map(s => parseInt(s, 10))
const RUNS = parseInt(process.env.RUNS || '3', 10)
const ETOP_DB = process.env.ETOP_DB || 'etop_queue_bench'
const BOSS_DB = process.env.BOSS_DB || 'pgboss_bench'
const ENQUEUE = process.env.ENQUEUE || 'generate'
const QUEUE = 'noop'
const VERBOSE = process.env.VERBOSE !== '0'
const PATTERN = process.env.PATTERN || 'phases'

if (!['generate', 'insert'].includes(ENQUEUE)) throw new Error('ENQUEUE must be generate or insert')
if (!['phases', 'interleaved'].includes(PATTERN)) throw new Error('PATTERN must be phases or interleaved')

const now = () => Number(process.hrtime.bigint()) / 1e6 // ms
const median = xs => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

// Split n jobs over w workers.
const shares = (n, w) => Array.from({ length: w }, (_, i) => Math.floor(n / w) + (i < n % w ? 1 : 0))

// ---------- etop ----------

const ETOP_ENQUEUE = {
  generate: 'SELECT etop.qbr_generate($1)',
  insert: 'INSERT INTO etop.qbr_jobs (client_id) VALUES ($1)'
}[ENQUEUE]
const ETOP_CLAIM = 'SELECT * FROM etop_internal.job_claim()'
const ETOP_COMPLETE = `UPDATE etop.qbr_jobs
   SET status = 'completed', completed_at = now(), locked_until = NULL,
       progress = 'Completed (step 4/4)', error = NULL
 WHERE id = $1 AND status = 'active' AND worker_pid = pg_backend_pid()`

// Both sides start every measurement from a truncated queue table.  TRUNCATE
// leaves the tables' statistics unknown, so the planner sizes them from their
// files as they grow.  (A VACUUM ANALYZE of the empty table instead would
// record "0 rows" until autovacuum catches up: with 10,000 jobs queued the
// planner then scans the whole partial claim index for statements such as
// "WHERE id = $1 AND status = 'active'", ~2 ms each instead of ~0.1 ms.)
async function etopReset (admin) {
  await admin.query('TRUNCATE etop.qbr_jobs')
}

// Per worker: enqueue() one job; take() claims one job and completes it,
// false when there was none to claim.
async function etopSession (w, clientId) {
  const pool = new pg.Pool({ database: ETOP_DB, max: w, application_name: 'etop-bench' })
  const clients = await Promise.all(Array.from({ length: w }, () => pool.connect()))
  return {
    workers: clients.map(c => ({
      enqueue: () => c.query(ETOP_ENQUEUE, [clientId]),
      take: async () => {
        const { rows } = await c.query(ETOP_CLAIM)
        const job = rows[0]
        if (!job || job.id === null) return false
        const r = await c.query(ETOP_COMPLETE, [job.id])
        if (r.rowCount !== 1) throw new Error(`etop: job ${job.id} was not completed`)
        return true
      }
    })),
    close: async () => { clients.forEach(c => c.release()); await pool.end() }
  }
}

async function etopCheck (admin) {
  const { rows } = await admin.query(
    "SELECT count(*) FILTER (WHERE status = 'completed')::int AS completed, count(*)::int AS total FROM etop.qbr_jobs")
  return rows[0]
}

// ---------- pg-boss ----------

async function bossReset (admin) {
  await admin.query('TRUNCATE pgboss.job, pgboss.archive')
}

async function bossSession (w) {
  const boss = new PgBoss({ database: BOSS_DB, max: w, supervise: false, schedule: false, application_name: 'pgboss-bench' })
  boss.on('error', e => { console.error('pg-boss:', e); process.exitCode = 1 })
  await boss.start()
  // open the pool's W connections before timing, as on the etop side
  const db = boss.getDb()
  await Promise.all(Array.from({ length: w }, () => db.executeSql('SELECT pg_sleep(0.05)')))
  const worker = {
    enqueue: async () => {
      if (!await boss.send(QUEUE, {})) throw new Error('pg-boss: send returned no id')
    },
    take: async () => {
      const jobs = await boss.fetch(QUEUE)
      if (!jobs || jobs.length === 0) return false
      const r = await boss.complete(QUEUE, jobs[0].id)
      if (r.affected !== 1) throw new Error(`pg-boss: job ${jobs[0].id} was not completed`)
      return true
    }
  }
  return {
    workers: Array.from({ length: w }, () => worker), // one pool: each worker has one query in flight
    close: () => boss.stop({ graceful: false, wait: true, close: true })
  }
}

// ---------- the measurement, the same for both ----------

// phases: every worker enqueues its share, then every worker takes jobs until
// the queue is empty.  interleaved: every worker enqueues one job and takes
// one, its share of times (the queue stays nearly empty), then drains.
async function measure (session, jobs) {
  const w = session.workers.length
  const drain = async wk => { let n = 0; while (await wk.take()) n++; return n }
  try {
    if (PATTERN === 'phases') {
      const t0 = now()
      await Promise.all(shares(jobs, w).map(async (n, i) => {
        for (let k = 0; k < n; k++) await session.workers[i].enqueue()
      }))
      const t1 = now()
      const done = await Promise.all(session.workers.map(drain))
      const t2 = now()
      return { enqueueMs: t1 - t0, processMs: t2 - t1, processed: done.reduce((a, b) => a + b, 0) }
    }
    const t0 = now()
    const done = await Promise.all(shares(jobs, w).map(async (n, i) => {
      const wk = session.workers[i]
      let taken = 0
      for (let k = 0; k < n; k++) {
        await wk.enqueue()
        if (await wk.take()) taken++
      }
      return taken
    }))
    const rest = await Promise.all(session.workers.map(drain))
    const t1 = now()
    return { enqueueMs: 0, processMs: t1 - t0, processed: [...done, ...rest].reduce((a, b) => a + b, 0) }
  } finally {
    await session.close()
  }
}

async function bossCheck (admin) {
  const { rows } = await admin.query(
    "SELECT count(*) FILTER (WHERE state = 'completed')::int AS completed, count(*)::int AS total FROM pgboss.job")
  return rows[0]
}

// ---------- main ----------

async function main () {
  const etopAdmin = new pg.Client({ database: ETOP_DB })
  const bossAdmin = new pg.Client({ database: BOSS_DB })
  await etopAdmin.connect()
  await bossAdmin.connect()

  const { rows: [c] } = await etopAdmin.query('SELECT min(id) AS id FROM etop.clients')
  if (!c || c.id === null) throw new Error(`no client in ${ETOP_DB}: seed one (queue_bench.sh does)`)
  const clientId = c.id

  // pg-boss: create its schema (migrate) and the queue once
  {
    const boss = new PgBoss({ database: BOSS_DB, max: 1, supervise: false, schedule: false })
    boss.on('error', e => console.error('pg-boss:', e))
    await boss.start()
    if (!await boss.getQueue(QUEUE)) await boss.createQueue(QUEUE)
    await boss.stop({ graceful: false, wait: true, close: true })
  }
  const { rows: [v] } = await bossAdmin.query('SELECT version FROM pgboss.version')
  const bossPkg = require('pg-boss/package.json').version

  const systems = {
    etop: {
      reset: () => etopReset(etopAdmin),
      measure: async w => measure(await etopSession(w, clientId), JOBS),
      check: () => etopCheck(etopAdmin)
    },
    'pg-boss': {
      reset: () => bossReset(bossAdmin),
      measure: async w => measure(await bossSession(w), JOBS),
      check: () => bossCheck(bossAdmin)
    }
  }

  async function once (name, w) {
    const s = systems[name]
    await s.reset()
    await etopAdmin.query('CHECKPOINT') // neither side pays for the other's dirty pages
    const r = await s.measure(w)
    const k = await s.check()
    if (r.processed !== JOBS || k.completed !== JOBS || k.total !== JOBS) {
      throw new Error(`${name}: processed ${r.processed}, ${k.completed} completed of ${k.total} rows, expected ${JOBS}`)
    }
    r.totalMs = r.enqueueMs + r.processMs
    r.jobsPerSec = JOBS / (r.totalMs / 1000)
    return r
  }

  console.log(`queue benchmark: ${JOBS} no-op jobs, pattern ${PATTERN}, workers ${WORKERS.join(', ')}, ${RUNS} runs; ` +
              `etop enqueue = ${ENQUEUE === 'generate' ? 'etop.qbr_generate()' : 'INSERT INTO etop.qbr_jobs'}; ` +
              `pg-boss ${bossPkg} (schema version ${v.version})`)

  // warm-up: a small round of each with every worker count, not counted
  for (const w of WORKERS) {
    await etopReset(etopAdmin)
    await measure(await etopSession(w, clientId), 500)
    await bossReset(bossAdmin)
    await measure(await bossSession(w), 500)
  }

  const results = {} // results[w][name] = [run...]
  for (const w of WORKERS) results[w] = { etop: [], 'pg-boss': [] }
  for (let run = 1; run <= RUNS; run++) {
    for (const w of WORKERS) {
      // alternate which system goes first, so neither always gets the warmer cache
      const order = run % 2 ? ['etop', 'pg-boss'] : ['pg-boss', 'etop']
      for (const name of order) {
        const r = await once(name, w)
        results[w][name].push(r)
        if (VERBOSE) {
          console.log(`  run ${run} workers ${w} ${name.padEnd(7)} ${r.jobsPerSec.toFixed(0).padStart(6)} jobs/s  ` +
                      (PATTERN === 'phases'
                        ? `(enqueue ${(r.enqueueMs / 1000).toFixed(2)} s, claim+complete ${(r.processMs / 1000).toFixed(2)} s)`
                        : `(${(r.totalMs / 1000).toFixed(2)} s)`))
        }
      }
    }
  }

  const fmt = x => x.toFixed(2)
  console.log('')
  console.log(`medians of ${RUNS} runs; jobs/s = ${JOBS} / time to enqueue, claim and complete them all` +
              (PATTERN === 'phases' ? '; the phases on their own: enqueue/s and claim+complete/s' : ' (interleaved)'))
  console.log('workers  system    jobs/s' + (PATTERN === 'phases' ? '  enqueue/s  claim+complete/s' : ''))
  const summary = []
  for (const w of WORKERS) {
    const e = results[w].etop
    const b = results[w]['pg-boss']
    const perRun = f => e.map((r, i) => f(r) / f(b[i])) // etop / pg-boss, per run
    for (const [name, rs] of [['etop', e], ['pg-boss', b]]) {
      let line = `${String(w).padStart(7)}  ${name.padEnd(8)} ${median(rs.map(r => r.jobsPerSec)).toFixed(0).padStart(7)}`
      if (PATTERN === 'phases') {
        line += ` ${median(rs.map(r => JOBS / (r.enqueueMs / 1000))).toFixed(0).padStart(10)}` +
                ` ${median(rs.map(r => JOBS / (r.processMs / 1000))).toFixed(0).padStart(17)}`
      }
      console.log(line)
    }
    const ratios = perRun(r => r.jobsPerSec)
    summary.push({
      w,
      ratio: median(ratios),
      runs: ratios,
      ofMedians: median(e.map(r => r.jobsPerSec)) / median(b.map(r => r.jobsPerSec)),
      enqueue: PATTERN === 'phases' ? median(perRun(r => 1 / r.enqueueMs)) : null,
      process: PATTERN === 'phases' ? median(perRun(r => 1 / r.processMs)) : null
    })
  }
  console.log('')
  for (const s of summary) {
    console.log(`RATIO workers=${s.w}: etop jobs/s / pg-boss jobs/s = ${fmt(s.ratio)}x ` +
                `(median of the per-run ratios ${s.runs.map(fmt).join(', ')}; ratio of the medians ${fmt(s.ofMedians)}x; target >= 2x)` +
                (s.enqueue === null ? '' : `\n        phases: enqueue ${fmt(s.enqueue)}x, claim+complete ${fmt(s.process)}x`))
  }

  await etopAdmin.end()
  await bossAdmin.end()
}

main().catch(e => { console.error(e); process.exit(1) })
