// `wx` for Node, enough for the pages' API client against a real bridge: wx.request
// over fetch, storage in memory, wx.login answering a code the bridge's sandbox
// code2session accepts, and wx.requestPayment doing what the WeChat client does for the
// shopper in the payment sandbox (POST /__sandbox/jsapi/pay with the logged-in openid).
function nodeWx({ loginCode, paySandboxUrl, appId }) {
  const storage = {}
  const wx = {
    openid: '',
    getStorageSync: key => (storage[key] === undefined ? '' : storage[key]),
    setStorageSync: (key, value) => { storage[key] = value },
    removeStorageSync: key => { delete storage[key] },
    getAppBaseInfo: () => ({ language: 'zh_CN' }),
    login: opts => setTimeout(() => opts.success({ code: loginCode }), 0),
    request(opts) {
      const init = { method: opts.method, headers: opts.header }
      if (opts.data !== undefined) init.body = JSON.stringify(opts.data)
      fetch(opts.url, init)
        .then(async res => {
          const text = await res.text()
          let data = text
          try { data = JSON.parse(text) } catch (err) { /* not JSON: as text, as wx does */ }
          opts.success({ statusCode: res.status, data, header: Object.fromEntries(res.headers) })
        })
        .catch(err => opts.fail({ errMsg: 'request:fail ' + err.message }))
    },
    requestPayment(opts) {
      const params = { appId, timeStamp: opts.timeStamp, nonceStr: opts.nonceStr,
                       package: opts.package, signType: opts.signType, paySign: opts.paySign,
                       openid: wx.openid }
      fetch(paySandboxUrl.replace(/\/+$/, '') + '/__sandbox/jsapi/pay', {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(params),
      })
        .then(async res => {
          if (res.status === 200) opts.success({ errMsg: 'requestPayment:ok' })
          else opts.fail({ errMsg: `requestPayment:fail ${res.status} ${await res.text()}` })
        })
        .catch(err => opts.fail({ errMsg: 'requestPayment:fail ' + err.message }))
    },
  }
  return wx
}

module.exports = { nodeWx }
