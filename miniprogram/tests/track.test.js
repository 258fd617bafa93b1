const { install, openPage, settle, SESSION } = require('./harness.js')

const EVENTS = 'POST /api/v1/mp/analytics/events'
// The fields of the bridge's MpEvent (cloud_bridge/analytics/schemas.py) and its types.
const FIELDS = ['event_id', 'type', 'at', 'session_id', 'store', 'page', 'keyword',
                'result_count', 'channel', 'campaign', 'sharer']
const TYPES = ['entry', 'page_view', 'search', 'share', 'add_to_cart', 'checkout', 'paid']
const CHANNELS = ['store_scan', 'shared_card', 'official_account', 'search', 'ad', 'other']
const IDENT = /^[A-Za-z0-9_-]{1,64}$/
const PRODUCTS = { store: 's1', currency: 'CNY', total: 2, items: [
  { product_id: 'coke-330', name_zh: '可口可乐', name_en: 'Coke', category: 'drinks',
    unit_price: 250, member_price: null, age_restricted: false },
  { product_id: 'oreo-97', name_zh: '奥利奥', name_en: 'Oreo', category: 'snacks',
    unit_price: 890, member_price: 800, age_restricted: false }] }

function fresh() {
  jest.resetModules()
  return require('../lib/track.js')
}

const wait = ms => new Promise(resolve => setTimeout(resolve, ms))

function expectValid(event) {
  expect(Object.keys(event).filter(k => !FIELDS.includes(k))).toEqual([])
  expect(event.event_id).toMatch(IDENT)
  expect(event.session_id).toMatch(IDENT)
  expect(TYPES).toContain(event.type)
  expect(event.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  if ('channel' in event) expect(CHANNELS).toContain(event.channel)
  if ('result_count' in event) expect(Number.isInteger(event.result_count)).toBe(true)
}

test('the launch scene gives the entry channel; an ad keeps its campaign, a card its sharer', () => {
  install()
  const track = fresh()
  const expected = { 1011: 'store_scan', 1012: 'store_scan', 1013: 'store_scan',
                     1007: 'shared_card', 1008: 'shared_card', 1035: 'official_account',
                     1043: 'official_account', 1005: 'search', 1006: 'search', 1053: 'search',
                     1045: 'ad', 1046: 'ad', 1067: 'ad', 1084: 'ad', 1001: 'other', 9999: 'other' }
  Object.entries(expected).forEach(([scene, channel]) => expect(track.channelOf(scene)).toBe(channel))
  expect(track.channelOf(undefined)).toBe('other')
  const ad = track.start({ scene: 1045, query: { campaign: 'spring-2026', sharer: 'x' } })
  expect(ad).toMatchObject({ type: 'entry', channel: 'ad', campaign: 'spring-2026' })
  expect(ad.sharer).toBeUndefined()
  expectValid(ad)
  // Without options: wx.getLaunchOptionsSync(); an openid-like sharer only.
  const wx = install()
  wx.getLaunchOptionsSync = () => ({ scene: 1007, query: { sharer: 'o-alice_1', campaign: 'c' } })
  const card = fresh().start()
  expect(card).toMatchObject({ type: 'entry', channel: 'shared_card', sharer: 'o-alice_1' })
  expect(card.campaign).toBeUndefined()
  wx.getLaunchOptionsSync = () => ({ scene: 1007, query: { sharer: '138 0013 8000' } })
  expect(fresh().start().sharer).toBeUndefined()
})

test('page views, searches and shares carry the bridge\'s fields, and no phone number', () => {
  const wx = install({ storage: { ...SESSION, 'mp.store': 's1', 'mp.openid': 'o-alice',
                                  'mp.phone': '13800138000' } })
  const track = fresh()
  track.pageView('pages/shop/index')
  track.search('  可乐 ', 2)
  track.search('', -1)
  const path = track.share('pages/shop/index', '/pages/home/index')
  expect(path).toBe('/pages/home/index?sharer=o-alice')
  const events = track.pending()
  expect(events.map(e => e.type)).toEqual(['page_view', 'search', 'search', 'share'])
  events.forEach(expectValid)
  expect(events[0]).toMatchObject({ page: 'pages/shop/index', store: 's1' })
  expect(events[1]).toMatchObject({ keyword: '可乐', result_count: 2 })
  expect(events[2].keyword).toBeUndefined()
  expect(events[2].result_count).toBeUndefined()
  expect(events[3]).toMatchObject({ sharer: 'o-alice', page: 'pages/shop/index' })
  expect(new Set(events.map(e => e.event_id)).size).toBe(4)
  expect(JSON.stringify(events)).not.toContain('13800138000')
  expect(wx.requests).toEqual([])                 // nothing sent before start()
})

test('events go in one batch per interval, and at once when the app is hidden', async () => {
  const wx = install({ storage: { ...SESSION }, replies: {
    [EVENTS]: req => ({ data: { stored: req.data.events.length, duplicates: 0 } }) } })
  const track = fresh()
  track.start({ scene: 1011, query: {} }, { intervalMs: 200 })
  track.pageView('pages/home/index')
  track.pageView('pages/shop/index')
  await wait(0)
  expect(wx.requests).toEqual([])                 // not at once: after the interval
  await wait(300)
  await settle()
  expect(wx.requests).toHaveLength(1)
  const [req] = wx.requests
  expect(req.header.Authorization).toBe('Bearer tok-alice')
  expect(req.data.v).toBe(1)
  expect(req.data.events.map(e => e.type)).toEqual(['entry', 'page_view', 'page_view'])
  expect(req.data.events[0].channel).toBe('store_scan')
  expect(track.pending()).toEqual([])
  // App onHide sends what waits without waiting for the interval.
  let app = null
  global.App = options => { app = options }
  require('../app.js')
  track.search('奥利奥', 0)
  app.onHide()
  await settle()
  expect(wx.requests).toHaveLength(2)
  expect(wx.requests[1].data.events).toMatchObject([{ type: 'search', keyword: '奥利奥', result_count: 0 }])
  expect(wx.unexpected).toEqual([])
})

test('a failed send never throws into the page: unreached is kept, refused is dropped', async () => {
  let reply = { fail: 'timeout' }
  const wx = install({ storage: { ...SESSION }, replies: { [EVENTS]: () => reply } })
  const track = fresh()
  track.start({ scene: 1035 }, { intervalMs: 100000 })
  await expect(track.flush()).resolves.toBeUndefined()
  expect(track.pending().map(e => e.type)).toEqual(['entry'])   // kept for the next try
  reply = { status: 422, data: { title: 'Unprocessable Content' } }
  await expect(track.flush()).resolves.toBeUndefined()
  expect(track.pending()).toEqual([])                          // the bridge refused it
  expect(track.stats().dropped).toBe(1)
  wx.request = () => { throw new Error('wx.request broke') }
  track.pageView('pages/home/index')
  await expect(track.flush()).resolves.toBeUndefined()
  expect(track.pending()).toHaveLength(1)
  // Without a session nothing is asked; the events wait.
  const wx2 = install()
  const track2 = fresh()
  track2.start({ scene: 1011 })
  await track2.flush()
  expect(wx2.requests).toEqual([])
  expect(track2.pending()).toHaveLength(1)
})

test('the queue is bounded: the oldest events go', () => {
  install()
  const track = fresh()
  expect(track.MAX_QUEUE).toBe(200)
  for (let i = 0; i < 250; i++) track.pageView(`pages/p${i}`)
  const left = track.pending()
  expect(left).toHaveLength(200)
  expect(left[0].page).toBe('pages/p50')
  expect(track.stats().dropped).toBe(50)
  expect(track.BATCH).toBeLessThanOrEqual(100)    // MpEventsBody.events max_length
})

test('the shop page records its view and each search with its result count, and shares', async () => {
  const wx = install({ storage: { ...SESSION, 'mp.store': 's1', 'mp.openid': 'o-bob' }, replies: {
    'GET /api/v1/mp/stores/s1/products': req => ({ data: req.query.q === '可乐'
      ? { ...PRODUCTS, total: 1, items: PRODUCTS.items.slice(0, 1) } : PRODUCTS }) } })
  const page = await openPage('shop')
  page.instance.onInput({ detail: { value: '可乐' } })
  await page.instance.search()
  await settle()
  const shared = page.instance.onShareAppMessage()
  expect(shared.path).toBe('/pages/home/index?sharer=o-bob')
  const track = require('../lib/track.js')         // the page's instance (same registry)
  expect(track.pending().map(e => [e.type, e.page || e.keyword, e.result_count])).toEqual([
    ['page_view', 'pages/shop/index', undefined], ['search', '可乐', 1],
    ['share', 'pages/shop/index', undefined]])
  expect(wx.unexpected).toEqual([])
})
