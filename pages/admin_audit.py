import streamlit as st
st.write('admin_audit')
