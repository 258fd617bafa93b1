// Behaviour events for the bridge's analytics (POST /api/v1/mp/analytics/events): the
// entry channel at launch, page views, searches (keyword, result count) and shares.
// Events wait in a bounded queue and go in batches at most every INTERVAL_MS and when
// the app is hidden; a failed send never reaches the page (the batch is kept for the
// next try when the bridge was not reached, dropped when the bridge refused it). No
// personal data: no phone number, no name; the bridge adds the openid from the session.
// Nothing is sent before start() (App onLaunch), so a page alone only queues.
const api = require('./api.js')
const session = require('./session.js')

const V = 1                 // the event schema version (MpEventsBody.v)
const INTERVAL_MS = 5000    // at most one send per interval, besides app hide
const MAX_QUEUE = 200       // the oldest events go when more wait
const BATCH = 100           // MpEventsBody.events max_length
const OPENID = 'mp.openid'  // stored by session.save: the sharer of this client's shares

// WeChat scene codes -> the bridge's channels (analytics/events.py CHANNELS).
const SCENES = {
  1011: 'store_scan', 1012: 'store_scan', 1013: 'store_scan',
  1007: 'shared_card', 1008: 'shared_card',
  1035: 'official_account', 1043: 'official_account',
  1005: 'search', 1006: 'search', 1053: 'search',
  1045: 'ad', 1046: 'ad', 1067: 'ad', 1084: 'ad',
}
const IDENT = /^[A-Za-z0-9_-]{1,64}$/

const state = { queue: [], timer: null, started: false, sending: false, seq: 0, dropped: 0,
                sessionId: '', intervalMs: INTERVAL_MS }

function channelOf(scene) {
  return SCENES[Number(scene)] || 'other'
}

function short(value, max = 64) {
  const s = value === undefined || value === null ? '' : String(value).replace(/\0/g, '').trim()
  return s ? s.slice(0, max) : undefined
}

function ident(value) {
  return typeof value === 'string' && IDENT.test(value) ? value : undefined
}

function sessionId() {
  if (!state.sessionId) {
    state.sessionId = Date.now().toString(36) + Math.random().toString(36).slice(2, 10)
  }
  return state.sessionId
}

function schedule() {
  if (!state.started || state.timer || state.sending || !state.queue.length) return
  state.timer = setTimeout(() => {
    state.timer = null
    flush()
  }, state.intervalMs)
}

/** Queue one event; never throws. ``fields`` as in the bridge's MpEvent. */
function record(type, fields = {}) {
  try {
    state.seq += 1
    const event = { event_id: `${sessionId()}-${state.seq}`, type, at: new Date().toISOString(),
                    session_id: sessionId() }
    const store = ident(session.store())
    if (store) event.store = store
    Object.keys(fields).forEach(k => {
      if (fields[k] !== undefined && fields[k] !== null && fields[k] !== '') event[k] = fields[k]
    })
    state.queue.push(event)
    if (state.queue.length > MAX_QUEUE) {
      state.dropped += state.queue.length - MAX_QUEUE
      state.queue.splice(0, state.queue.length - MAX_QUEUE)
    }
    schedule()
    return event
  } catch (err) {
    return null
  }
}

/** Send what waits (one batch); resolves in every case, never rejects. */
function flush() {
  if (state.timer) {
    clearTimeout(state.timer)
    state.timer = null
  }
  if (state.sending || !state.queue.length || !session.token()) return Promise.resolve()
  const batch = state.queue.splice(0, BATCH)
  state.sending = true
  let sent
  try {
    sent = api.call('analyticsEvents', { body: { v: V, events: batch } })
  } catch (err) {
    sent = Promise.reject(err)
  }
  return sent.then(() => undefined, err => {
    // Not reached or the bridge busy: keep the batch for the next try; refused: drop it.
    const retry = !err || typeof err.status !== 'number' || err.status === 0
      || err.status === 401 || err.status === 429 || err.status >= 500
    if (retry) {
      state.queue.unshift(...batch)
      if (state.queue.length > MAX_QUEUE) {
        state.dropped += state.queue.length - MAX_QUEUE
        state.queue.splice(0, state.queue.length - MAX_QUEUE)
      }
    } else {
      state.dropped += batch.length
    }
  }).then(() => {
    state.sending = false
    schedule()
  })
}

/** App onLaunch: the entry event from the launch options' scene, then sending starts. */
function start(launch, { intervalMs } = {}) {
  if (intervalMs) state.intervalMs = intervalMs
  state.started = true
  let options = launch
  try {
    if (!options && typeof wx.getLaunchOptionsSync === 'function') options = wx.getLaunchOptionsSync()
  } catch (err) {
    options = null
  }
  options = options || {}
  const query = options.query || {}
  const channel = channelOf(options.scene)
  return record('entry', {
    channel,
    campaign: channel === 'ad' ? short(query.campaign) : undefined,
    sharer: channel === 'shared_card' ? ident(query.sharer) : undefined,
  })
}

function pageView(page) {
  return record('page_view', { page: short(page, 128) })
}

function search(keyword, resultCount) {
  const n = Number(resultCount)
  return record('search', { keyword: short(keyword),
                            result_count: Number.isInteger(n) && n >= 0 ? n : undefined })
}

/** onShareAppMessage: the share event and the path to share (it names the sharer). */
function share(page, path) {
  let sharer
  try {
    sharer = ident(wx.getStorageSync(OPENID))
  } catch (err) {
    sharer = undefined
  }
  record('share', { page: short(page, 128), sharer })
  if (!sharer) return path
  return path + (path.includes('?') ? '&' : '?') + 'sharer=' + encodeURIComponent(sharer)
}

function pending() {
  return state.queue.slice()
}

function stats() {
  return { queued: state.queue.length, dropped: state.dropped, started: state.started }
}

module.exports = { SCENES, INTERVAL_MS, MAX_QUEUE, BATCH, OPENID, channelOf, record, flush,
                   start, pageView, search, share, pending, stats }
