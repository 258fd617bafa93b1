const { has, install, openPage, settle, text, SESSION } = require('./harness.js')
const { REFRESH_MARGIN_S } = require('../lib/qr.js')

const M = '/api/v1/mp'
const MEMBER = { level_name_zh: '金卡', level_name_en: 'Gold', points: 120 }

afterEach(() => jest.useRealTimers())

test('the member code is shown as a QR and fetched again before it expires', async () => {
  jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick'], now: new Date('2026-12-05T10:00:00Z') })
  let n = 0
  const wx = install({ storage: { ...SESSION }, replies: {
    [`GET ${M}/member`]: { data: MEMBER },
    [`GET ${M}/member/code`]: () => {
      n += 1
      return { data: { code: `S1.member-code-${n}`, expires_at: Date.now() / 1000 + 180,
                       level: 'gold', points: 120, stored_value: 12345 } }
    },
  } })
  const opened = openPage('member')
  await jest.advanceTimersByTimeAsync(10)
  const page = await opened
  expect(text(page, '.level')).toBe('金卡')
  expect(text(page, '.stored-value')).toBe('¥123.45')
  expect(has(page, '.qr')).toBe(true)
  const first = page.instance.data.qr
  expect(first.startsWith('data:image/gif;base64,')).toBe(true)
  expect(page.instance.data.code).toBe('S1.member-code-1')

  // Not yet: the code is good for 180 s, the page asks REFRESH_MARGIN_S before the end.
  await jest.advanceTimersByTimeAsync((180 - REFRESH_MARGIN_S) * 1000 - 1000)
  expect(n).toBe(1)
  await jest.advanceTimersByTimeAsync(2000)
  expect(n).toBe(2)
  expect(page.instance.data.code).toBe('S1.member-code-2')
  expect(page.instance.data.qr).not.toBe(first)

  // Off screen, no more fetching.
  page.instance.onHide()
  await jest.advanceTimersByTimeAsync(600 * 1000)
  expect(n).toBe(2)
  expect(wx.unexpected).toEqual([])
})

test('a shopper who is not a member is offered to join, and no code is shown', async () => {
  const wx = install({ language: 'en', storage: { ...SESSION }, replies: {
    [`GET ${M}/member`]: { status: 404, data: { title: 'Not Found', detail: 'not a member' } },
    [`GET ${M}/member/code`]: { status: 404, data: { title: 'Not Found', detail: 'not a member' } },
  } })
  const page = await openPage('member')
  await settle()
  expect(has(page, '.qr')).toBe(false)
  expect(text(page, '.not-member-text')).toBe('You are not a member yet')
  expect(wx.called('setNavigationBarTitle')).toEqual([{ title: 'Member card' }])
})

test('a bridge without a member code key says the card is not available, nothing broken', async () => {
  install({ storage: { ...SESSION }, replies: {
    [`GET ${M}/member`]: { data: MEMBER },
    [`GET ${M}/member/code`]: { status: 503, data: { title: 'Service Unavailable', detail: 'no member code key configured' } },
  } })
  const page = await openPage('member')
  expect(has(page, '.qr')).toBe(false)
  expect(text(page, '.error')).toBe('暂不可用')
})

test('changing the phone sends a fresh wx.login code with the phone code; a refusal keeps the session', async () => {
  let answer = { status: 403, data: { title: 'Forbidden', detail: 're-authentication failed' } }
  const wx = install({ storage: { ...SESSION }, replies: {
    [`GET ${M}/member`]: { data: { ...MEMBER, phone_masked: '138****0000' } },
    [`GET ${M}/member/code`]: { data: { code: 'S1.c', expires_at: Date.now() / 1000 + 180, level: 'gold',
                                        points: 120, stored_value: 0 } },
    [`PUT ${M}/member/phone`]: () => answer,
  } })
  const page = await openPage('member')
  page.instance.stop()                                  // the code refresh is another test's
  expect(text(page, '.phone')).toBe('138****0000')
  await page.instance.onNewPhone({ detail: { errMsg: 'getPhoneNumber:fail user deny' } })
  expect(wx.requests.filter(r => r.method === 'PUT')).toEqual([])     // declined: nothing sent
  await page.instance.onNewPhone({ detail: { code: 'phone-code-1' } })
  await settle()
  const [sent] = wx.requests.filter(r => r.method === 'PUT')
  expect(sent.data).toEqual({ login_code: 'code-from-wx-login', phone_code: 'phone-code-1' })
  expect(wx.called('login').length).toBe(1)
  expect(text(page, '.error')).toBe('身份验证未通过，请重新登录后再试')
  expect(wx.storage['mp.token']).toBe('tok-alice')     // a 403 is not a lost session
  expect(wx.called('redirectTo')).toEqual([])
  answer = { data: { phone_bound: true, phone_masked: '139****1111' } }
  await page.instance.onNewPhone({ detail: { code: 'phone-code-2' } })
  await settle()
  expect(text(page, '.phone')).toBe('139****1111')
  expect(text(page, '.notice')).toBe('手机号已更换')
  page.instance.onUnload()
})
