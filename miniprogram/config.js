// Where the cloud bridge is. The merchant sets BRIDGE_URL to the bridge's public https
// address, which must also be a "request domain" (request合法域名) of the mini-program.
module.exports = {
  BRIDGE_URL: 'https://bridge.example.com',
}
