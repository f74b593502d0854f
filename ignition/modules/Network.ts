export { default } from "../../deploy/network";
