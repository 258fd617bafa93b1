const { install, openPage, tap, text, texts, SESSION } = require('./harness.js')

const M = '/api/v1/mp'
// The paths of a bridge's OpenAPI document: here one without coupons and ordering.
function documentWith(...paths) {
  const out = {}
  paths.forEach(([method, path]) => { out[path] = { ...(out[path] || {}), [method.toLowerCase()]: {} } })
  return { paths: out }
}
const STORES = { items: [{ store: 's1', price_book: true }, { store: 's2', price_book: false }] }

test('the store picker keeps the picked store; entries only for operations the bridge serves', async () => {
  const wx = install({ storage: { ...SESSION }, replies: {
    [`GET ${M}/stores`]: { data: STORES },
    'GET /api/v1/openapi.json': { data: documentWith(['GET', `${M}/member/code`], ['GET', `${M}/orders`]) },
  } })
  const page = await openPage('home')
  expect(wx.storage['mp.store']).toBe('s1')          // first store picked by default
  expect(text(page, '.store')).toBe('s1')
  expect(texts(page, '.entry')).toEqual(['会员卡', '我的订单'])  // no coupons, no ordering here
  page.instance.pickStore({ detail: { value: '1' } })
  expect(wx.storage['mp.store']).toBe('s2')
  await tap(page, '.entry-myOrders')
  expect(wx.called('navigateTo')).toEqual([{ url: '/pages/orders/index' }])
  expect(wx.requests.every(r => r.path === '/api/v1/openapi.json'
                           || r.header.Authorization === 'Bearer tok-alice')).toBe(true)
  expect(wx.unexpected).toEqual([])
})

test('every entry appears when the bridge serves everything', async () => {
  const api = require('../lib/api.js')
  install({ storage: { ...SESSION, 'mp.store': 's2' }, replies: {
    [`GET ${M}/stores`]: { data: STORES },
    'GET /api/v1/openapi.json': { data: documentWith(...Object.values(api.OPERATIONS)) },
  } })
  const page = await openPage('home')
  expect(text(page, '.store')).toBe('s2')
  expect(texts(page, '.entry')).toEqual(['会员卡', '优惠券', '点单', '购物车', '我的订单', '预约服务', '投诉与建议',
                                         '退换货', '在线客服', '常见问题', '满意度调查'])
})

test('without a session the home page sends to login and asks nothing', async () => {
  const wx = install({ storage: { 'mp.token': 'old', 'mp.token_expires': '2000-01-01T00:00:00+00:00' } })
  await openPage('home')
  expect(wx.called('redirectTo')).toEqual([{ url: '/pages/login/index' }])
  expect(wx.requests).toEqual([])
  expect(wx.storage['mp.token']).toBeUndefined()     // the expired token is dropped
})

test('a session the bridge no longer knows goes back to login', async () => {
  const wx = install({ storage: { ...SESSION }, replies: {
    [`GET ${M}/stores`]: { status: 401, data: { title: 'Unauthorized' } },
    'GET /api/v1/openapi.json': { data: documentWith() },
  } })
  await openPage('home')
  expect(wx.called('redirectTo')).toEqual([{ url: '/pages/login/index' }])
  expect(wx.storage['mp.token']).toBeUndefined()
})
