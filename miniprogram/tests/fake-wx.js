// A fake `wx` that records every call the pages make and answers wx.request from a
// table of replies keyed "METHOD /path" (the query string left off), the way the bridge
// would. A request with no reply in the table is answered 404 and listed in
// `unexpected`, so a test sees a page calling something it should not.
function fakeWx({ replies = {}, language = 'zh_CN', storage = {}, payment = 'ok', scan = '',
                  photo = null } = {}) {
  const calls = []
  const requests = []
  const unexpected = []
  const store = { ...storage }
  const record = name => (opts = {}) => { calls.push([name, opts]) }
  const wx = {
    calls,
    requests,
    unexpected,
    storage: store,
    replies,
    getAppBaseInfo: () => ({ language }),
    getSystemInfoSync: () => ({ language }),
    getStorageSync: key => (store[key] === undefined ? '' : store[key]),
    setStorageSync: (key, value) => { store[key] = JSON.parse(JSON.stringify(value)) },
    removeStorageSync: key => { delete store[key] },
    login(opts) {
      calls.push(['login', opts])
      setTimeout(() => opts.success({ code: 'code-from-wx-login' }), 0)
    },
    request(opts) {
      const url = new URL(opts.url)
      const req = { method: opts.method, path: url.pathname, query: Object.fromEntries(url.searchParams),
                    header: opts.header, data: opts.data, url: opts.url }
      requests.push(req)
      calls.push(['request', req])
      let reply = replies[`${req.method} ${req.path}`]
      if (typeof reply === 'function') reply = reply(req)
      if (!reply) {
        unexpected.push(`${req.method} ${req.path}`)
        reply = { status: 404, data: { title: 'Not Found', status: 404, detail: 'no such route' } }
      }
      setTimeout(() => {
        if (reply.fail) opts.fail({ errMsg: 'request:fail ' + reply.fail })
        else opts.success({ statusCode: reply.status || 200, data: reply.data })
      }, 0)
    },
    requestPayment(opts) {
      calls.push(['requestPayment', opts])
      setTimeout(() => {
        if (payment === 'ok') opts.success({ errMsg: 'requestPayment:ok' })
        else opts.fail({ errMsg: `requestPayment:fail ${payment}` })
      }, 0)
    },
    scanCode(opts) {
      calls.push(['scanCode', opts])
      setTimeout(() => opts.success({ result: scan, scanType: 'QR_CODE' }), 0)
    },
    // ``photo``: the bytes of the picture the shopper picks (null: they cancel the picker).
    chooseMedia(opts) {
      calls.push(['chooseMedia', opts])
      setTimeout(() => {
        if (photo) opts.success({ type: 'image', tempFiles: [{ tempFilePath: 'wxfile://tmp/photo.jpg', size: photo.byteLength }] })
        else opts.fail({ errMsg: 'chooseMedia:fail cancel' })
      }, 0)
    },
    getFileSystemManager() {
      return {
        readFile(opts) {
          calls.push(['readFile', opts])
          setTimeout(() => opts.success({ data: photo }), 0)
        },
      }
    },
    navigateTo: record('navigateTo'),
    redirectTo: record('redirectTo'),
    reLaunch: record('reLaunch'),
    showToast: record('showToast'),
    setNavigationBarTitle: record('setNavigationBarTitle'),
  }
  wx.called = name => calls.filter(c => c[0] === name).map(c => c[1])
  return wx
}

module.exports = { fakeWx }
