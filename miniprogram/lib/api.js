// The bridge's mini-program API (/api/v1/mp), one entry per operation the pages call.
// tests/miniprogram/test_api_client.py checks every (method, path) here against the
// bridge's OpenAPI document (`cloud-bridge openapi`), so a renamed route fails a test.
const config = require('../config.js')
const session = require('./session.js')

const M = '/api/v1/mp'
const OPERATIONS = {
  login: ['POST', `${M}/session`],
  register: ['POST', `${M}/member/register`],
  member: ['GET', `${M}/member`],
  memberCode: ['GET', `${M}/member/code`],
  coupons: ['GET', `${M}/coupons`],
  claimCoupon: ['POST', `${M}/coupons/claim`],
  stores: ['GET', `${M}/stores`],
  products: ['GET', `${M}/stores/{store}/products`],
  createOrder: ['POST', `${M}/orders`],
  orders: ['GET', `${M}/orders`],
  order: ['GET', `${M}/orders/{order_no}`],
  payOrder: ['POST', `${M}/orders/{order_no}/pay`],
  payStoredValue: ['POST', `${M}/orders/{order_no}/pay/stored-value`],
  setPayPassword: ['PUT', `${M}/member/pay-password`],
  changePhone: ['PUT', `${M}/member/phone`],
  claimOrder: ['POST', `${M}/orders/{order_no}/claim`],
  requestInvoice: ['POST', `${M}/orders/{order_no}/invoice`],
  invoice: ['GET', `${M}/orders/{order_no}/invoice`],
  complain: ['POST', `${M}/service/complaints`],
  bookable: ['GET', `${M}/service/stores/{store}/appointment-services`],
  book: ['POST', `${M}/service/appointments`],
  bookings: ['GET', `${M}/service/appointments`],
  cancelBooking: ['POST', `${M}/service/appointments/{booking_id}/cancel`],
  analyticsEvents: ['POST', `${M}/analytics/events`],
  tracking: ['GET', `${M}/service/orders/{order_no}/tracking`],
  askAfterSales: ['POST', `${M}/service/aftersales`],
  afterSalesPhoto: ['POST', `${M}/service/aftersales/photos`],
  myAfterSales: ['GET', `${M}/service/aftersales`],
  cancelAfterSales: ['POST', `${M}/service/aftersales/{aftersales_id}/cancel`],
  faq: ['GET', `${M}/service/stores/{store}/faq`],
  faqArticle: ['GET', `${M}/service/faq/{article_id}`],
  startChat: ['POST', `${M}/service/conversations`],
  conversations: ['GET', `${M}/service/conversations`],
  chatMessages: ['GET', `${M}/service/conversations/{conversation_id}/messages`],
  sendChat: ['POST', `${M}/service/conversations/{conversation_id}/messages`],
  document: ['GET', '/api/v1/openapi.json'],
}
// Operations of features whose bridge side may not have landed yet: their pages appear
// only when the bridge's OpenAPI document serves them (lib/features.js), and
// tests/miniprogram/test_api_client.py checks them once the document has their paths.
const UPCOMING = {
  surveys: ['GET', `${M}/surveys`],
  answerSurvey: ['POST', `${M}/surveys/{survey_id}/answers`],
}
Object.assign(OPERATIONS, UPCOMING)
// Operations that need no session.
const PUBLIC = new Set(['login', 'document'])

class ApiError extends Error {
  constructor(status, title, detail) {
    super(`${status} ${title}${detail ? ': ' + detail : ''}`)
    this.status = status
    this.title = title
    this.detail = detail
  }
}

function fillPath(template, params) {
  return template.replace(/\{(\w+)\}/g, (_, name) => {
    const value = params[name]
    if (value === undefined || value === null || value === '') {
      throw new Error(`missing path parameter ${name}`)
    }
    return encodeURIComponent(String(value))
  })
}

function queryString(query) {
  const parts = Object.keys(query || {})
    .filter(k => query[k] !== undefined && query[k] !== null && query[k] !== '')
    .map(k => `${encodeURIComponent(k)}=${encodeURIComponent(String(query[k]))}`)
  return parts.length ? '?' + parts.join('&') : ''
}

function baseUrl() {
  return (wx.getStorageSync('mp.bridge_url') || config.BRIDGE_URL).replace(/\/+$/, '')
}

/**
 * Call one operation: resolves with the reply's JSON on 2xx, rejects with an ApiError
 * (status, title, detail of the RFC 9457 problem) otherwise, or status 0 when the
 * bridge was not reached. A 401 ends the stored session: the page sends to login.
 */
function call(name, { path = {}, query, body, raw } = {}) {
  const op = OPERATIONS[name]
  if (!op) throw new Error(`unknown operation ${name}`)
  const [method, template] = op
  // ``raw``: bytes (an ArrayBuffer, e.g. a photo) sent as they are.
  const header = { 'Content-Type': raw === undefined ? 'application/json' : 'application/octet-stream' }
  if (!PUBLIC.has(name)) {
    const token = session.token()
    if (!token) return Promise.reject(new ApiError(401, 'Unauthorized', 'not logged in'))
    header.Authorization = 'Bearer ' + token
  }
  const url = baseUrl() + fillPath(template, path) + queryString(query)
  return new Promise((resolve, reject) => {
    wx.request({
      url,
      method,
      header,
      data: raw !== undefined ? raw : body,
      dataType: 'json',
      success(res) {
        const data = res.data
        if (res.statusCode >= 200 && res.statusCode < 300) {
          resolve(data)
          return
        }
        if (res.statusCode === 401 && !PUBLIC.has(name)) session.clear()
        const problem = data && typeof data === 'object' ? data : {}
        reject(new ApiError(res.statusCode, problem.title || 'Error', problem.detail || ''))
      },
      fail(err) {
        reject(new ApiError(0, 'Unreachable', (err && err.errMsg) || 'request failed'))
      },
    })
  })
}

module.exports = { OPERATIONS, UPCOMING, PUBLIC, ApiError, call, fillPath, queryString }
