// The shopper's session with the bridge: the token from POST /api/v1/mp/session, kept
// in the mini-program's storage, and the store the shopper picked.
const TOKEN = 'mp.token'
const EXPIRES = 'mp.token_expires'
const STORE = 'mp.store'
const OPENID = 'mp.openid'

function token() {
  const value = wx.getStorageSync(TOKEN)
  const expires = wx.getStorageSync(EXPIRES)
  if (!value) return ''
  if (expires && Date.parse(expires) <= Date.now()) {
    clear()
    return ''
  }
  return value
}

function save(reply) {
  wx.setStorageSync(TOKEN, reply.token)
  wx.setStorageSync(EXPIRES, reply.expires_at)
  if (reply.openid) wx.setStorageSync(OPENID, reply.openid)  // the sharer in lib/track
}

function clear() {
  wx.removeStorageSync(TOKEN)
  wx.removeStorageSync(EXPIRES)
  wx.removeStorageSync(OPENID)
}

function store() {
  return wx.getStorageSync(STORE) || ''
}

function setStore(value) {
  wx.setStorageSync(STORE, value)
}

/** wx.login() as a promise: the one-time code the bridge trades for the openid. */
function wxLoginCode() {
  return new Promise((resolve, reject) => {
    wx.login({
      success: res => (res.code ? resolve(res.code) : reject(new Error('wx.login gave no code'))),
      fail: err => reject(new Error((err && err.errMsg) || 'wx.login failed')),
    })
  })
}

/** Send to the login page when there is no session; true when there is one. */
function requireLogin() {
  if (token()) return true
  wx.redirectTo({ url: '/pages/login/index' })
  return false
}

module.exports = { token, save, clear, store, setStore, wxLoginCode, requireLogin }
