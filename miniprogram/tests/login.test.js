const { has, install, openPage, settle, tap, text, SESSION } = require('./harness.js')

const M = '/api/v1/mp'
const SESSION_REPLY = { token: 'tok-new', openid: 'o-alice', expires_at: '2999-01-01T00:00:00+00:00' }

test('a new shopper logs in with the wx.login code, then binds the phone and joins', async () => {
  let member = 404
  const wx = install({ replies: {
    [`POST ${M}/session`]: { status: 200, data: SESSION_REPLY },
    [`GET ${M}/member`]: () => (member === 404
      ? { status: 404, data: { title: 'Not Found', detail: 'not a member' } }
      : { status: 200, data: {} }),
    [`POST ${M}/member/register`]: () => { member = 200; return { status: 201, data: {} } },
  }, storage: { 'mp.store': 's1' } })
  const page = await openPage('login')
  expect(wx.requests).toEqual([])                   // no session: nothing asked yet
  expect(text(page, '.login')).toBe('微信登录')
  await tap(page, '.login')
  await settle()
  const login = wx.requests.find(r => r.path === `${M}/session`)
  expect(login.data).toEqual({ code: 'code-from-wx-login' })
  expect(login.header.Authorization).toBeUndefined()
  expect(wx.storage['mp.token']).toBe('tok-new')
  expect(has(page, '.bind')).toBe(true)   // not a member yet: the join step
  expect(wx.called('reLaunch')).toEqual([])

  page.instance.onPhone({ detail: { code: 'phone-code-1' } })
  await settle()
  const register = wx.requests.find(r => r.path === `${M}/member/register`)
  expect(register.data).toEqual({ phone_code: 'phone-code-1', home_store: 's1' })
  expect(register.header.Authorization).toBe('Bearer tok-new')
  expect(wx.called('reLaunch')).toEqual([{ url: '/pages/home/index' }])
  expect(wx.unexpected).toEqual([])
})

test('declining the phone number registers nothing; joining without it is a choice', async () => {
  const wx = install({ storage: SESSION, replies: {
    [`GET ${M}/member`]: { status: 404, data: { title: 'Not Found' } },
    [`POST ${M}/member/register`]: { status: 201, data: {} },
  } })
  const page = await openPage('login')
  page.instance.onPhone({ detail: { errMsg: 'getPhoneNumber:fail user deny' } })
  await settle()
  expect(wx.requests.filter(r => r.method === 'POST')).toEqual([])
  await tap(page, '.skip')
  expect(wx.requests.find(r => r.path === `${M}/member/register`).data).toEqual({})
})

test('a refused login code shows the bridge\'s reason and stores no session', async () => {
  const wx = install({ language: 'en', replies: {
    [`POST ${M}/session`]: { status: 401, data: { title: 'Unauthorized', detail: 'the login code is invalid or used' } },
  } })
  const page = await openPage('login')
  expect(text(page, '.login')).toBe('Log in with WeChat')
  await tap(page, '.login')
  expect(text(page, '.error')).toBe('the login code is invalid or used')
  expect(wx.storage['mp.token']).toBeUndefined()
  expect(wx.called('redirectTo')).toEqual([])
})
