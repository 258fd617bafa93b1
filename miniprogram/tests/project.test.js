const fs = require('fs')
const path = require('path')

const ROOT = path.resolve(__dirname, '..')

test('every page of app.json has its four files, and every page folder is in app.json', () => {
  const app = JSON.parse(fs.readFileSync(path.join(ROOT, 'app.json'), 'utf8'))
  const missing = app.pages.flatMap(p => ['js', 'json', 'wxml', 'wxss']
    .filter(ext => !fs.existsSync(path.join(ROOT, `${p}.${ext}`))).map(ext => `${p}.${ext}`))
  expect(missing).toEqual([])
  const folders = fs.readdirSync(path.join(ROOT, 'pages')).map(d => `pages/${d}/index`).sort()
  expect([...app.pages].sort()).toEqual(folders)
  expect(app.pages[0]).toBe('pages/home/index')
})

test('the member code QR is an image, and it is fetched again in time', () => {
  const { qrDataUrl, refreshDelayMs, REFRESH_MARGIN_S, MIN_REFRESH_S } = require('../lib/qr.js')
  const a = qrDataUrl('S1.member.aaaa')
  expect(a.startsWith('data:image/gif;base64,')).toBe(true)
  expect(qrDataUrl('S1.member.bbbb')).not.toBe(a)
  const now = 1_000_000_000_000
  expect(refreshDelayMs(now / 1000 + 180, now)).toBe((180 - REFRESH_MARGIN_S) * 1000)
  // A phone whose clock runs ahead: never a tight loop.
  expect(refreshDelayMs(now / 1000 - 600, now)).toBe(MIN_REFRESH_S * 1000)
})

test('the API client fills path parameters safely and leaves out empty query values', () => {
  const { fillPath, queryString } = require('../lib/api.js')
  expect(fillPath('/o/{order_no}/pay', { order_no: 'MP 1/2' })).toBe('/o/MP%201%2F2/pay')
  expect(() => fillPath('/o/{order_no}', {})).toThrow('missing path parameter order_no')
  expect(queryString({ q: '可乐', limit: 50, offset: undefined, x: '' })).toBe('?q=%E5%8F%AF%E4%B9%90&limit=50')
  expect(queryString({})).toBe('')
})
