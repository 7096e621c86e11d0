export const id = 708;
export const ids = [708];
export const modules = {

/***/ 26708:
/***/ ((module) => {

module.exports = eval("require")("age-encryption");


/***/ })

};
