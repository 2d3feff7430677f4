export { MODBUS_TEMPLATE_DIR, listModbusTemplates, readModbusTemplate, type ModbusTemplateText } from './templates.js';
