const path = require('path')
const fs = require('fs')
const { install } = require('./harness.js')

function keys(obj, prefix = '') {
  return Object.keys(obj).flatMap(k => (typeof obj[k] === 'object'
    ? keys(obj[k], `${prefix}${k}.`) : [`${prefix}${k}`])).sort()
}

test('every text exists in Chinese and in English', () => {
  const { TEXT } = require('../lib/i18n.js')
  expect(keys(TEXT.en)).toEqual(keys(TEXT.zh))
})

test('every t.key a page shows or sets is a text', () => {
  const { TEXT } = require('../lib/i18n.js')
  const known = new Set([...keys(TEXT.zh), ...Object.keys(TEXT.zh)])
  const pages = fs.readdirSync(path.join(__dirname, '..', 'pages'))
  const missing = []
  for (const page of pages) {
    for (const file of ['index.wxml', 'index.js']) {
      const source = fs.readFileSync(path.join(__dirname, '..', 'pages', page, file), 'utf8')
      for (const m of source.matchAll(/\bt\.([A-Za-z]+)/g)) {
        if (!known.has(m[1])) missing.push(`${page}/${file}: ${m[1]}`)
      }
    }
  }
  expect(missing).toEqual([])
})

test('the language follows the WeChat client', () => {
  const i18n = require('../lib/i18n.js')
  for (const [language, lang] of [['zh_CN', 'zh'], ['zh_TW', 'zh'], ['en', 'en'], ['en_US', 'en'], ['ja', 'zh'], ['', 'zh']]) {
    install({ language })
    expect([language, i18n.lang()]).toEqual([language, lang])
  }
  install({ language: 'en' })
  expect(i18n.pick('可乐', 'Coke')).toBe('Coke')
  expect(i18n.pick('可乐', null)).toBe('可乐')
})

test('money is shown from integer fen without floating point', () => {
  const { yuan } = require('../lib/money.js')
  expect([yuan(0), yuan(5), yuan(250), yuan(100001), yuan(-1290), yuan(1.5), yuan('x')])
    .toEqual(['¥0.00', '¥0.05', '¥2.50', '¥1000.01', '-¥12.90', '', ''])
})
