// Loads a page as it is (its WXML compiled by WeChat's own compiler, its JS run) with
// miniprogram-simulate, under a fake `wx`.
const path = require('path')
const simulate = require('miniprogram-simulate')
const { fakeWx } = require('./fake-wx.js')

const ROOT = path.resolve(__dirname, '..')

function install(options) {
  const wx = fakeWx(options)
  global.wx = wx
  return wx
}

/** Render ``pages/<name>/index`` and run its onLoad; resolves once its calls settled. */
async function openPage(name, options = {}) {
  // Jest keeps its own module registry (simulate's `delete require.cache` does not reach
  // it): without a reset a page's Component() would run only the first time it loads.
  jest.resetModules()
  const id = simulate.load(path.join(ROOT, 'pages', name, 'index'), { rootPath: ROOT })
  const page = simulate.render(id)
  page.attach(document.createElement('parent-wrapper'))
  await page.instance.onLoad(options)
  await settle()
  return page
}

/** Let pending replies (setTimeout 0) and the promise chains after them run. */
async function settle(rounds = 5) {
  for (let i = 0; i < rounds; i++) {
    await new Promise(resolve => setTimeout(resolve, 0))
  }
}

function text(page, selector) {
  const el = page.querySelector(selector)
  return el ? el.dom.textContent.trim() : null
}

function has(page, selector) {
  return Boolean(page.querySelector(selector))
}

function texts(page, selector) {
  return page.querySelectorAll(selector).map(el => el.dom.textContent.trim())
}

async function tap(page, selector) {
  const el = page.querySelector(selector)
  if (!el) throw new Error(`nothing matches ${selector}`)
  el.dispatchEvent('tap')
  await settle()
}

const SESSION = { 'mp.token': 'tok-alice', 'mp.token_expires': '2999-01-01T00:00:00+00:00' }

module.exports = { install, openPage, settle, has, text, texts, tap, ROOT, SESSION }
