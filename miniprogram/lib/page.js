// What every page does with a failed call: a lost session goes to login, a missing
// network says so, anything else shows the bridge's own explanation.
const i18n = require('./i18n.js')

function errorText(err) {
  const t = i18n.texts()
  if (!err || typeof err.status !== 'number') return (err && err.message) || t.unavailable
  if (err.status === 0) return t.networkError
  if (err.status === 401) return t.loginAgain
  if (err.status === 503) return t.unavailable
  return err.detail || err.title || t.unavailable
}

/** Show ``err`` on ``page`` (data.error); a 401 sends the shopper to the login page. */
function fail(page, err) {
  page.setData({ error: errorText(err), busy: false })
  if (err && err.status === 401) wx.redirectTo({ url: '/pages/login/index' })
}

/** The page's texts and its title in the client's language. */
function localise(page, titleKey) {
  const t = i18n.texts()
  page.setData({ t })
  if (titleKey) wx.setNavigationBarTitle({ title: t[titleKey] })
  return t
}

module.exports = { errorText, fail, localise }
